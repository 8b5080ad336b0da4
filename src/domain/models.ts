import type { OutputFormat } from './job.js'

export interface SizeLimits {
  min: number
  max: number
  multipleOf: number
  defaultWidth: number
  defaultHeight: number
}

export interface ModelSpec {
  id: string
  name: string
  /** How each dialect names this model. */
  aliases: { bfl: string; seaart: string; apiframe: string; aiml: string }
  size: SizeLimits
  maxImages: number
  formats: readonly OutputFormat[]
  /** List price per image in US dollars (BFL's price); config can override it. */
  priceUsd: number
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
} as const satisfies Record<string, ModelSpec>

export type ModelId = keyof typeof MODELS
export const MODEL_IDS = Object.keys(MODELS) as ModelId[]

export function isModelId(value: string): value is ModelId {
  return Object.hasOwn(MODELS, value)
}

/** The model a dialect calls `name`, if fluxhost serves it. */
export function modelByAlias(dialect: keyof ModelSpec['aliases'], name: string): ModelId | undefined {
  return MODEL_IDS.find((id) => MODELS[id].aliases[dialect] === name)
}

/** The names a dialect can use, for error messages. */
export function aliasesOf(dialect: keyof ModelSpec['aliases']): string[] {
  return MODEL_IDS.map((id) => MODELS[id].aliases[dialect])
}

export function getModel(id: ModelId): ModelSpec {
  return MODELS[id]
}
