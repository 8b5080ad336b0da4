import type { Config } from '../config/config.js'
import type { EngineName } from '../domain/engines.js'
import type { OutputFormat, Simulation } from '../domain/job.js'
import type { ModelId } from '../domain/models.js'
import type { PushCall, TaskPush } from './push.js'
import type { CheckedDownload } from './upstream-client.js'

/** What an engine is asked to make. */
export interface EngineTask {
  jobId: string
  model: ModelId
  prompt: string
  width: number
  height: number
  seed: number
  numImages: number
  promptUpsampling: boolean
  raw: boolean
  safetyTolerance: number
  /** Sampling steps and distilled guidance, when the model takes them (flux-dev); engines default them otherwise. */
  steps?: number
  guidance?: number
  /** The aspect ratio asked for (ultra); width and height already match it. */
  aspectRatio?: string
  /** The input image as stored (encoded bytes), with how strongly to follow it. */
  imagePrompt?: { data: Buffer; strength: number }
  output: { format: OutputFormat; quality: number }
  simulate?: Simulation
}

export type EngineImage =
  /** Pixels, row-major, `channels` bytes each. */
  | { kind: 'raw'; data: Buffer; width: number; height: number; channels: 3 | 4 }
  /** An encoded file (jpeg, png, webp) as the upstream returned it. */
  | { kind: 'encoded'; data: Buffer }

export interface EngineOutput {
  images: EngineImage[]
  /** The prompt actually used, when the engine rewrote it. */
  prompt?: string
  /** What the provider charged for this task, in US dollars, when it said so or its price is known. */
  upstreamCostUsd?: number
  /** The provider's ids for the task (its request or prediction ids), for support. */
  upstreamIds?: string[]
  /** Request fields the provider could not honour (`raw`, `prompt_upsampling`): reported in the result. */
  notHonoured?: string[]
}

export interface EngineContext {
  signal: AbortSignal
  /** Fraction done, 0–1, for the whole task. */
  progress(fraction: number): void
  /**
   * Set when providers can call fluxhost back (FLUXHOST_PROVIDER_WEBHOOKS): engines whose
   * provider pushes (BFL, fal, Replicate) submit with its URL and poll only as a safety net.
   */
  push?: TaskPush
}

export interface EngineCheck {
  reachable: boolean
  /** What was found: `credits 1234`, `key refused (403)`, `could not connect: …`. */
  detail: string
}

/** Turns a task into images. Engines never touch HTTP routes, the store or the queue. */
export interface ImageEngine {
  readonly name: string
  /**
   * Generates on this machine or one the operator runs (preview, ComfyUI, sd.cpp): its
   * outputs go through fluxhost's safety checker. Cloud engines moderate their own.
   */
  readonly local: boolean
  /** Rewrites prompts itself when asked (`prompt_upsampling`), as BFL's API does. */
  readonly upsamplesPrompts?: boolean
  /** False when a started task cannot be stopped upstream (BFL has no cancel). Default true. */
  readonly cancelsUpstream?: boolean
  /**
   * A submit whose answer was lost may still run there; when this is true a duplicate elsewhere
   * is harmless (a local GPU whose leftover the engine removes), so the router may fail over.
   */
  readonly duplicateHarmless?: boolean
  /**
   * Whether the engine can take an image prompt (for every model, or per model): one that
   * cannot is passed over for such jobs, and a route with none refuses them. Default true.
   */
  readonly takesImagePrompt?: boolean | ((model: ModelId) => boolean)
  /** Whether the engine can be reached and will work now (for /api/models and `doctor`). */
  check?(signal: AbortSignal): Promise<EngineCheck>
  supports(model: ModelId): boolean
  generate(task: EngineTask, ctx: EngineContext): Promise<EngineOutput>
  /** Checks a call to the push URL by the provider's own scheme; engines that push have it. */
  verifyPush?(call: PushCall): Promise<boolean>
  /** Lets go of what the engine holds open between tasks (ComfyUI's websocket); called at shutdown. */
  close?(): Promise<void>
}

/**
 * An engine in the registry (engines/registry.ts): its name, and how to build it from the
 * configuration (undefined: not configured). Adding an engine is its folder, its entry in
 * the registry, its models in domain/engines.ts and its settings in config/settings/engines.ts.
 */
export interface EngineEntry {
  name: EngineName
  create(config: Config, deps?: EngineDeps): ImageEngine | undefined
}

/** What the process gives engines besides the configuration. */
export interface EngineDeps {
  /** Fetches result files on hosts other than the provider's API host (a CDN) through the checked agent. */
  download?: CheckedDownload
}
