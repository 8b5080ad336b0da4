import { MODEL_IDS, type ModelId } from './models.js'

/** Every engine fluxhost has, by the name routes and results use. */
export const ENGINE_NAMES = [
  'preview',
  'bfl',
  'comfyui',
  'sdcpp',
  'fal',
  'replicate',
  'together',
  'aiml',
  'apiframe',
  'seaart',
] as const
export type EngineName = (typeof ENGINE_NAMES)[number]

export function isEngineName(name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name)
}

/**
 * The models each engine can serve: what FLUXHOST_ROUTES is checked against when it is
 * loaded. Each engine's `supports()` answers from this table (a test checks the registry).
 */
export const ENGINE_MODELS: Readonly<Record<EngineName, readonly ModelId[]>> = {
  preview: MODEL_IDS,
  bfl: ['flux-pro-1.1', 'flux-pro-1.1-ultra', 'flux-dev'],
  comfyui: MODEL_IDS,
  sdcpp: MODEL_IDS,
  fal: ['flux-pro-1.1', 'flux-pro-1.1-ultra', 'flux-dev'],
  replicate: ['flux-pro-1.1', 'flux-pro-1.1-ultra', 'flux-dev'],
  together: ['flux-pro-1.1', 'flux-dev'],
  aiml: ['flux-pro-1.1', 'flux-pro-1.1-ultra', 'flux-dev'],
  apiframe: ['flux-pro-1.1', 'flux-pro-1.1-ultra'],
  seaart: ['flux-pro-1.1'],
}

/** The sellers of FLUX that fluxhost reaches with a key and a base URL each (FLUXHOST_<NAME>_KEY/_URL). */
export const PROVIDER_NAMES = ['fal', 'replicate', 'together', 'aiml', 'apiframe', 'seaart'] as const
export type ProviderName = (typeof PROVIDER_NAMES)[number]

/**
 * What each engine charges per image (US dollars, at about one megapixel), from
 * reference/providers.md; FLUXHOST_ENGINE_PRICES overrides it. Local engines cost nothing
 * per image. The `cheapest` routing policy orders by it, and usage shows it next to fluxhost's
 * own price as the upstream cost when the provider does not report one.
 */
export const ENGINE_PRICES_USD: Readonly<Record<EngineName, Partial<Record<ModelId, number>>>> = {
  preview: {},
  comfyui: {},
  sdcpp: {},
  bfl: { 'flux-pro-1.1': 0.04, 'flux-pro-1.1-ultra': 0.06, 'flux-dev': 0.025 },
  fal: { 'flux-pro-1.1': 0.04, 'flux-pro-1.1-ultra': 0.06, 'flux-dev': 0.025 },
  replicate: { 'flux-pro-1.1': 0.04, 'flux-pro-1.1-ultra': 0.06, 'flux-dev': 0.025 },
  together: { 'flux-pro-1.1': 0.04, 'flux-dev': 0.025 },
  aiml: { 'flux-pro-1.1': 0.04, 'flux-pro-1.1-ultra': 0.06, 'flux-dev': 0.025 },
  apiframe: { 'flux-pro-1.1': 0.04, 'flux-pro-1.1-ultra': 0.06 },
  seaart: { 'flux-pro-1.1': 0.04 },
}
