/** The image formats a job can ask for. */
export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp'] as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

export interface SizeLimits {
  min: number
  max: number
  multipleOf: number
  defaultWidth: number
  defaultHeight: number
}

export interface RangeSpec {
  min: number
  max: number
  default: number
}

export interface ModelSpec {
  id: string
  name: string
  /** How each dialect names this model; a gateway dialect without a name does not serve it. */
  aliases: { bfl: string; seaart?: string; apiframe?: string; aiml?: string }
  size: SizeLimits
  maxImages: number
  formats: readonly OutputFormat[]
  /** List price per image in US dollars (BFL's price); config can override it. */
  priceUsd: number
  /** Sampling steps and distilled guidance, for models that take them (flux-dev). */
  steps?: RangeSpec
  guidance?: RangeSpec
  /** The size comes from an aspect ratio at about 4 megapixels (ultra), not width/height. */
  aspectRatio?: { default: string }
}

/** The models fluxhost serves. Canonical ids are BFL's path names. */
export const MODELS = {
  'flux-pro-1.1': {
    id: 'flux-pro-1.1',
    name: 'FLUX 1.1 [pro]',
    aliases: { bfl: 'flux-pro-1.1', seaart: 'flux_pro_11', apiframe: 'flux-1.1-pro', aiml: 'flux-pro/v1.1' },
    size: { min: 256, max: 1440, multipleOf: 32, defaultWidth: 1024, defaultHeight: 768 },
    maxImages: 4,
    formats: ['jpeg', 'png', 'webp'],
    priceUsd: 0.04,
  },
  'flux-pro-1.1-ultra': {
    id: 'flux-pro-1.1-ultra',
    name: 'FLUX 1.1 [pro] ultra',
    aliases: { bfl: 'flux-pro-1.1-ultra' },
    // Sizes are computed from aspect_ratio (21:9 … 9:21) at about 4 MP.
    size: { min: 256, max: 3200, multipleOf: 32, defaultWidth: 2720, defaultHeight: 1536 },
    maxImages: 4,
    formats: ['jpeg', 'png', 'webp'],
    priceUsd: 0.06,
    aspectRatio: { default: '16:9' },
  },
  'flux-dev': {
    id: 'flux-dev',
    name: 'FLUX.1 [dev]',
    aliases: { bfl: 'flux-dev' },
    size: { min: 256, max: 1440, multipleOf: 32, defaultWidth: 1024, defaultHeight: 768 },
    maxImages: 4,
    formats: ['jpeg', 'png', 'webp'],
    priceUsd: 0.025,
    steps: { min: 1, max: 50, default: 28 },
    guidance: { min: 1.5, max: 5, default: 3 },
  },
} as const satisfies Record<string, ModelSpec>

export type ModelId = keyof typeof MODELS
export const MODEL_IDS = Object.keys(MODELS) as ModelId[]

export function isModelId(value: string): value is ModelId {
  return Object.hasOwn(MODELS, value)
}

/** The model a dialect calls `name`, if fluxhost serves it. */
export function modelByAlias(dialect: keyof ModelSpec['aliases'], name: string): ModelId | undefined {
  return MODEL_IDS.find((id) => getModel(id).aliases[dialect] === name)
}

/** The names a dialect can use, for error messages. */
export function aliasesOf(dialect: keyof ModelSpec['aliases']): string[] {
  return MODEL_IDS.flatMap((id) => getModel(id).aliases[dialect] ?? [])
}

export function getModel(id: ModelId): ModelSpec {
  return MODELS[id]
}

/** `16:9` → [16, 9]; undefined unless two positive whole numbers. */
export function parseAspectRatio(value: string): [number, number] | undefined {
  const match = /^(\d{1,3}):(\d{1,3})$/.exec(value.trim())
  if (!match) return undefined
  const [w, h] = [Number(match[1]), Number(match[2])]
  return w > 0 && h > 0 ? [w, h] : undefined
}

/** Whether an aspect ratio is within ultra's range, 21:9 to 9:21. */
export function aspectRatioInRange([w, h]: [number, number]): boolean {
  return w / h <= 21 / 9 + 1e-9 && h / w <= 21 / 9 + 1e-9
}

/**
 * The size ultra renders an aspect ratio at: about 4 megapixels (2048²), each side a multiple
 * of 32. BFL does not document its exact sizes; these may differ from its by a few pixels.
 */
export function ultraSize([w, h]: [number, number]): { width: number; height: number } {
  const area = 2048 * 2048
  const round = (value: number) => Math.max(256, Math.round(value / 32) * 32)
  return { width: round(Math.sqrt((area * w) / h)), height: round(Math.sqrt((area * h) / w)) }
}

/**
 * An ultra request's size from its aspect ratio, or the model's default size when the ratio
 * is missing or invalid (the request check then reports it, naming the field).
 */
export function sizeForAspectRatio(
  model: ModelSpec,
  aspectRatio: string | undefined,
): { width: number; height: number } {
  const ratio = parseAspectRatio(aspectRatio ?? model.aspectRatio?.default ?? '')
  return ratio && aspectRatioInRange(ratio)
    ? ultraSize(ratio)
    : { width: model.size.defaultWidth, height: model.size.defaultHeight }
}
