import type { EngineName, ProviderName } from '../domain/engines.js'
import type { LimitDefaults } from '../domain/limits.js'
import type { ModelId } from '../domain/models.js'
import type { RouteSpec } from '../domain/routing.js'
import type { BlockedTerm } from './blocklist.js'
import type { ComfyGraph } from './comfy-workflow.js'
import type { CorsOrigins, TrustProxy } from './http-parsers.js'
import type { LogLevel } from './parsers.js'

/** A ComfyUI workflow template file, read and checked when the configuration was loaded. */
export interface WorkflowFile {
  /** Absolute path, for messages. */
  file: string
  graph: ComfyGraph
}

/** fluxhost's configuration: built once by `loadConfig`, frozen, passed to whatever needs a part. */
export interface Config {
  host: string
  port: number
  /** Absolute. Images (unless in a bucket), the server secret, and the SQLite records when there is no database. */
  dataDir: string
  /** null: images are files under the data dir. */
  s3: {
    bucket: string
    prefix: string
    endpoint: string | null
    region: string
    credentials: { accessKeyId: string; secretAccessKey: string } | null
  } | null
  /** With a bucket: fluxhost streams files (`proxy`) or redirects to a presigned URL. */
  fileDelivery: 'proxy' | 'redirect'
  /** null: the `secret` file in the data dir. */
  fileUrlSecret: string | null
  /** FLUXHOST_RETENTION in ms: finished jobs older than this are pruned; null: kept forever. */
  retentionMs: number | null
  /** null: the records are in SQLite in the data dir. `listen`: job events over LISTEN/NOTIFY. */
  database: { url: string; schema: string | null; listen: boolean } | null
  apiKeys: readonly string[]
  publicUrl: string | null
  /** Time limits on clients, whose word to take for our address, and who may read /metrics. */
  http: {
    headersTimeoutMs: number
    requestTimeoutMs: number
    idleTimeoutMs: number
    /** Whose X-Forwarded-* to believe (FLUXHOST_TRUST_PROXY), as Fastify's `trustProxy` takes it. */
    trustProxy: TrustProxy
    /** Host headers that may build answer URLs (lower case). */
    allowedHosts: readonly string[]
    metricsToken: string | null
    /** Browser origins CORS answers on the API routes and /files (FLUXHOST_CORS_ORIGINS); null: CORS off. */
    corsOrigins: CorsOrigins | null
  }
  /** The server's default limits per key (FLUXHOST_KEY_*); each absent unless configured. */
  keyLimits: LimitDefaults
  worker: {
    enabled: boolean
    concurrency: number
    leaseMs: number
    maxAttempts: number
    shutdownGraceMs: number
  }
  fileUrlTtlS: number
  allowSimulate: boolean
  allowPrivateUrls: boolean
  syncTimeoutS: number
  webhooks: {
    /** Delay before each attempt, in ms; its length is the number of attempts. */
    scheduleMs: readonly number[]
    timeoutMs: number
    concurrency: number
  }
  idempotencyTtlMs: number
  /** Engines per model from FLUXHOST_ROUTES; null: the default (bfl with a key, else preview). */
  routes: Partial<Record<ModelId, RouteSpec>> | null
  /** null: BFL's cloud is not used. */
  bfl: { apiKey: string; url: string; maxActive: number; pollMs: number } | null
  /**
   * null: no ComfyUI. `workflow` is `schnell` or `dev` (built in), or a template file read and
   * checked at load; `img2imgWorkflow` a template file for image prompts (null: the built-in's).
   */
  comfyui: {
    url: string
    workflow: 'schnell' | 'dev' | WorkflowFile
    img2imgWorkflow: WorkflowFile | null
    maxQueued: number
    pollMs: number
  } | null
  /** null: no sd-server. */
  sdcpp: { url: string; maxQueued: number; steps: number | null } | null
  /** The hosted sellers of FLUX; null: no key, not used. `maxActive` from FLUXHOST_ENGINE_CONCURRENCY. */
  providers: Readonly<Record<ProviderName, { key: string; url: string; maxActive: number } | null>>
  /** What each engine charges per image (USD): the built-in list with FLUXHOST_ENGINE_PRICES over it. */
  enginePricesUsd: Readonly<Record<EngineName, Partial<Record<ModelId, number>>>>
  /** Providers that can call back (BFL, fal, Replicate) are given a URL under publicUrl. */
  providerWebhooks: boolean
  /** fal's webhook signing keys. */
  falJwksUrl: string
  /** null: no upsampler; prompt_upsampling then applies only on engines that do it. */
  upsampler: { url: string; model: string; key: string | null } | null
  safety: {
    checker: boolean
    threads: number
    /** The prompt blocklist read from `FLUXHOST_PROMPT_BLOCKLIST` (absolute path), or null for the built-in list. */
    blocklist: { file: string; terms: readonly BlockedTerm[] } | null
  }
  bodyLimitBytes: number
  /** Per-image price in USD for every model (list price unless overridden). */
  pricesUsd: Readonly<Record<ModelId, number>>
  previewSteps: number
  logLevel: LogLevel
  /** Settings that were given but are no longer read, each with what to do instead. */
  notices: readonly string[]
}
