// The shapes the playground reads from the API (a job as GET /api/jobs/:id answers it, a model
// as GET /api/models lists it) and the form's settings: shared by its modules, typed once.

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled'
export type OutputFormat = 'jpeg' | 'png' | 'webp'

/** What a job was asked for, as the API shows it (src/api/native/render.ts). */
export interface JobRequest {
  prompt: string
  width: number
  height: number
  seed: number | null
  numImages: number
  outputFormat: OutputFormat
  outputQuality: number
  safetyTolerance: number
  promptUpsampling: boolean
  raw: boolean
  steps?: number
  guidance?: number
  /** flux-pro-1.1-ultra only: `W:H`, instead of width and height. */
  aspectRatio?: string
  /** Its strength only: the image itself is not given back. */
  imagePrompt: { strength: number } | null
  webhookUrl: string | null
}

export interface JobImage {
  url: string
  /** A WebP inside a 512 px box, signed like `url`. */
  thumbnailUrl?: string
  width: number
  height: number
  contentType: string
  bytes: number
}

/** How prompt upsampling went, when it was asked for. */
export interface Upsampling {
  applied: boolean
  by?: 'engine' | 'upsampler'
  reason?: string
}

export interface JobResult {
  images: JobImage[]
  /** The prompt the engine used (the upsampled one, if upsampling was applied). */
  prompt: string
  seed: number
  upsampling?: Upsampling
}

/** A job as the API gives it (the parts the playground reads). */
export interface Job {
  id: string
  model: string
  state: JobState
  progress: number
  /** GET /api/jobs/:id of a queued job only: how many queued jobs run before it. */
  queuePosition?: number
  request: JobRequest
  /** Set once the job succeeded. */
  result: JobResult | null
  error: { code: string; message: string } | null
  cost: { usd: string; charged: boolean }
  engine: string | null
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  /** Marked a favourite by its owner. */
  favourite?: boolean
}

export interface Range {
  min: number
  max: number
  default: number
}

/** A model as the form uses it: its limits (size fields, sampling), price and engines. */
export interface PageModel {
  id: string
  name?: string
  priceUsd?: number
  minSize?: number
  maxSize?: number
  sizeMultiple?: number
  defaultWidth?: number
  defaultHeight?: number
  /** Sampling steps and guidance, for the models that take them (flux-dev). */
  steps?: Range
  guidance?: Range
  engines?: string[]
}

/** A model as GET /api/models lists it (the parts the page reads). */
export interface ApiModel {
  id: string
  name: string
  priceUsd: number
  size?: { min: number; max: number; multipleOf: number; defaultWidth: number; defaultHeight: number }
  steps?: Range
  guidance?: Range
  engines: string[]
}

/** The form as the playground's settings: what the code samples are made from, and the create body. */
export interface Settings {
  model: string
  prompt: string
  /** On the model's grid already (what is sent), whatever is typed in the field now. */
  width: number
  height: number
  aspectRatio: string
  raw: boolean
  /** null: the model's default (or a model without sampling). */
  steps: number | null
  guidance: number | null
  seed: number | null
  outputFormat: string
  quality: number
  numImages: number
  safetyTolerance: number
  promptUpsampling: boolean
  /** The file chosen (the code samples put a URL in its place). */
  imagePrompt: { file: File; strength: number } | null
}
