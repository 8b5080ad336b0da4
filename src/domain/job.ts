import type { ModelId, OutputFormat } from './models.js'

/** Every state a job can be in. Closed: adding one is a migration and a change to every dialect. */
export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const
export type JobState = (typeof JOB_STATES)[number]

export function isTerminal(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'canceled'
}

export function canCancel(state: JobState): boolean {
  return state === 'queued' || state === 'running'
}

export { OUTPUT_FORMATS, type OutputFormat } from './models.js'

export const DIALECTS = ['native', 'bfl', 'seaart', 'apiframe', 'aiml', 'cli'] as const
export type Dialect = (typeof DIALECTS)[number]

/** Failure injection for clients testing their error handling (`X-Fluxhost-Simulate`). */
export interface Simulation {
  fail?: 'request_moderated' | 'content_moderated' | 'error'
  rateLimited?: boolean
  slowMs?: number
}

export interface ImagePromptRef {
  /** Blob key of the stored input image. */
  key: string
  /** 0 = ignore the image, 1 = follow it closely. */
  strength: number
}

export interface WebhookTarget {
  url: string
  /** BFL's `webhook_secret`, sent back verbatim in `X-Webhook-Secret`. */
  secret?: string
  /** The base URL the client used, for the URLs in the webhook's body. */
  base?: string
  /**
   * Apiframe's `webhookEvents` as sent: the webhook goes out only for an ending listed here
   * (`completed`: succeeded; `failed`: failed or canceled). Absent: every ending is sent.
   */
  events?: ('progress' | 'completed' | 'failed')[]
}

/** A generation request in canonical form, whichever dialect it came from. */
export interface GenerationRequest {
  model: ModelId
  prompt: string
  width: number
  height: number
  /** Always set: drawn at creation when the client gave none, so a job can be reproduced. */
  seed: number
  numImages: number
  imagePrompt?: ImagePromptRef
  promptUpsampling: boolean
  raw: boolean
  /** flux-dev: sampling steps and distilled guidance (absent: the model's defaults). */
  steps?: number
  guidance?: number
  /** flux-pro-1.1-ultra: the aspect ratio asked for (`16:9`); width and height are derived from it. */
  aspectRatio?: string
  /** 0 strictest … 6 most lenient. */
  safetyTolerance: number
  safetyChecker: boolean
  /**
   * What a flagged output does: `fail` the job as CONTENT_MODERATED (BFL and most APIs), or
   * `blackout` the image and report it in `result.nsfw` (AIML and fal). Default `fail`.
   */
  flaggedOutput?: 'fail' | 'blackout'
  output: { format: OutputFormat; quality: number }
  webhook?: WebhookTarget
  simulate?: Simulation
}

/** What became of a request's `prompt_upsampling`, as results report it. */
export interface UpsamplingOutcome {
  applied: boolean
  /** `engine`: the engine rewrote it itself (BFL); `upsampler`: FLUXHOST_UPSAMPLER_URL did. */
  by?: 'engine' | 'upsampler'
  /** Why it was not applied. */
  reason?: string
}

export interface JobImage {
  key: string
  width: number
  height: number
  contentType: string
  bytes: number
}

export interface JobResult {
  images: JobImage[]
  /** The prompt the engine used (after upsampling, if any). */
  prompt: string
  seed: number
  /** Time the engine took, without queueing, encoding and storing. */
  inferenceMs?: number
  /** Milliseconds fluxhost then spent encoding and storing the images. */
  encodeMs?: number
  /** Per image: the safety checker flagged it and it was replaced by a black image. */
  nsfw?: boolean[]
  /** Milliseconds the output classifier took (all images). */
  safetyMs?: number
  /** Present when `prompt_upsampling` was asked for: whether it happened, by whom, or why not. */
  upsampling?: UpsamplingOutcome
  /**
   * Each engine of the route in the order it was tried: why the earlier ones gave up, or that
   * one was passed over (`skipped`: its circuit was open). Older jobs have it only after a failover.
   */
  engineAttempts?: { engine: string; error?: { kind: string; message: string }; skipped?: string }[]
  /** What the engine's provider charged for the job (USD), when it said so or its price is known. */
  upstreamCostUsd?: number
  /** The provider's own ids for the job's tasks (request, prediction or job ids). */
  upstreamIds?: string[]
  /** Request fields the engine's provider could not honour (BFL names: `raw`, `prompt_upsampling`). */
  notHonoured?: string[]
}

export interface JobError {
  code: string
  message: string
}

/** What every job has, whatever its state. */
interface JobBase {
  id: string
  apiKeyId: string
  model: ModelId
  dialect: Dialect
  progress: number
  request: GenerationRequest
  /** The quoted price in millionths of a US dollar; charged only when the job succeeds. */
  costMicros: number
  engine: string | null
  attempts: number
  createdAt: Date
  startedAt: Date | null
  finishedAt: Date | null
  /** When its owner deleted it (reads no longer show it); absent or null: not deleted. */
  deletedAt?: Date | null
  /**
   * When retention (FLUXHOST_RETENTION) removed its images and scrubbed its prompt and inputs;
   * absent or null: not pruned. A pruned job still reads, with no images.
   */
  prunedAt?: Date | null
  /** When its owner marked it a favourite; absent or null: not one. */
  favouriteAt?: Date | null
}

/**
 * A job, by state: a succeeded job has its result, a failed or canceled one its error, and
 * a finished one its end time — the type says so, no `!` needed.
 */
export type Job =
  | (JobBase & { state: 'queued' | 'running'; result: null; error: null })
  | (JobBase & { state: 'succeeded'; result: JobResult; error: null; finishedAt: Date })
  | (JobBase & { state: 'failed' | 'canceled'; result: null; error: JobError; finishedAt: Date })

export type SucceededJob = Extract<Job, { state: 'succeeded' }>
