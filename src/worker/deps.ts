import type { Logger } from 'pino'
import type { BlobStore } from '../blobs/blob-store.js'
import type { Clock } from '../domain/clock.js'
import type { PushKeys } from '../engines/push.js'
import type { EngineRouter } from '../engines/router.js'
import type { Metrics } from '../observability/metrics.js'
import type { PromptUpsampler } from '../prompts/upsampler.js'
import type { JobEvents } from '../queue/job-events.js'
import type { JobQueue } from '../queue/job-queue.js'
import type { SafetyChecker } from '../safety/checker.js'
import type { Store } from '../store/store.js'

/** Why a worker aborted a running job; the engine sees it as `signal.reason`. */
export const ABORT = {
  shutdown: 'shutdown',
  canceled: 'canceled',
  leaseLost: 'lease-lost',
} as const
export type AbortReason = (typeof ABORT)[keyof typeof ABORT]

export interface RunJobDeps {
  store: Store
  queue: JobQueue
  events: JobEvents
  blobs: BlobStore
  router: EngineRouter
  clock: Clock
  logger: Logger
  metrics: Metrics
  leaseMs: number
  maxAttempts: number
  /** The prompt blocklist and output classifier; absent: no checks (tests of the runner). */
  safety?: SafetyChecker
  /** Rewrites prompts for engines that cannot (FLUXHOST_UPSAMPLER_URL); absent: none configured. */
  upsampler?: PromptUpsampler
  /** Provider callbacks' URLs and secrets (FLUXHOST_PROVIDER_WEBHOOKS); absent: engines poll. */
  push?: PushKeys
}
