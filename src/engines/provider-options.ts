import type { ModelId } from '../domain/models.js'
import type { CheckedDownload } from './upstream-client.js'

/** How every hosted provider's engine (fal, Replicate, Together, AIML, Apiframe, SeaArt) is built. */
export interface ProviderEngineOptions {
  apiKey: string
  /** The API's base URL (FLUXHOST_<NAME>_URL). */
  baseUrl: string
  /** Tasks in flight upstream at once, across all jobs of this process. */
  maxActive: number
  /** What the provider charges per image, per model (USD): the cost recorded when it reports none. */
  pricesUsd: Partial<Record<ModelId, number>>
  /** First delay between status reads (default 500 ms); it grows ×1.5 up to `pollMaxMs` (default 1 s). */
  pollMinMs?: number
  pollMaxMs?: number
  /** Gives up on a task that has not ended after this long (default 10 minutes). */
  taskTimeoutMs?: number
  /** Each request's limit (default 30 s; a synchronous provider's submit: `taskTimeoutMs`). */
  requestTimeoutMs?: number
  /** Result files off the API's host go through this (the checked outbound agent). */
  download?: CheckedDownload
}
