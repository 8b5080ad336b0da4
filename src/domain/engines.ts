import { MODEL_IDS, type ModelId } from './models.js'

/** Every engine fluxhost has, by the name routes and results use. */
export const ENGINE_NAMES = ['preview', 'bfl', 'comfyui', 'sdcpp'] as const
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
}
