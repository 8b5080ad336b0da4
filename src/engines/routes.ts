import type { Config } from '../config/config.js'
import { MODEL_IDS, type ModelId } from '../domain/models.js'
import type { EngineEntry, ImageEngine } from './engine.js'
import { createEngineRouter, type EngineRouter } from './router.js'
import { withSimulation } from './simulation.js'

export interface EngineRoutes {
  router: EngineRouter
  /** Which engines serve each model, in failover order, by name. */
  names: Readonly<Record<ModelId, readonly string[]>>
}

/**
 * The engines the configuration asks for, and which serve each model: FLUXHOST_ROUTES (checked
 * against what each engine can serve when the config was loaded), else every configured
 * engine in registry order, else preview. Preview is never added behind real engines by
 * default: a placeholder image in place of a real one would be a silent failure.
 */
export function buildEngineRoutes(config: Config, registry: readonly EngineEntry[]): EngineRoutes {
  const built = new Map<string, ImageEngine>()
  for (const entry of registry) {
    const engine = entry.create(config)
    if (engine) built.set(entry.name, engine)
  }
  const preview = built.get('preview')
  if (!preview) throw new Error('the engine registry has no preview engine')
  const configured = [...built.values()].filter((engine) => engine !== preview)
  const forClients = (engine: ImageEngine) =>
    config.allowSimulate && engine !== preview ? withSimulation(engine) : engine
  const table = Object.fromEntries(
    MODEL_IDS.map((id) => {
      const named = config.routes?.[id]
      const chosen = named ? named.map((name) => built.get(name)).filter((e) => e !== undefined) : configured
      const serving = chosen.filter((engine) => engine.supports(id))
      return [id, (serving.length > 0 ? serving : [preview]).map(forClients)]
    }),
  ) as Record<ModelId, ImageEngine[]>
  return {
    router: createEngineRouter(table),
    names: Object.fromEntries(MODEL_IDS.map((id) => [id, table[id].map((engine) => engine.name)])) as Record<
      ModelId,
      string[]
    >,
  }
}
