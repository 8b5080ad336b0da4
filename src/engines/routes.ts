import type { Config } from '../config/config.js'
import type { EngineName } from '../domain/engines.js'
import { MODEL_IDS, type ModelId } from '../domain/models.js'
import type { RoutePolicy } from '../domain/routing.js'
import { createOutbound } from '../net/outbound.js'
import type { EngineDeps, EngineEntry, ImageEngine } from './engine.js'
import { createEngineRouter, type EngineRouter, type Route } from './router.js'
import { withSimulation } from './simulation.js'

export interface EngineRoutes {
  router: EngineRouter
  /** Which engines serve each model, in the order given, by name. */
  names: Readonly<Record<ModelId, readonly string[]>>
  /** Each model's routing policy. */
  policies: Readonly<Record<ModelId, RoutePolicy>>
  /** Every engine built, by name (for closing those that hold connections). */
  engines: ReadonlyMap<string, ImageEngine>
}

/**
 * The engines the configuration asks for, and which serve each model: FLUXHOST_ROUTES (checked
 * against what each engine can serve when the config was loaded), else every configured
 * engine in registry order as a failover list, else preview. Preview is never added behind
 * real engines by default: a placeholder image in place of a real one would be a silent failure.
 */
export function buildEngineRoutes(
  config: Config,
  registry: readonly EngineEntry[],
  deps: EngineDeps = {},
): EngineRoutes {
  const built = new Map<string, ImageEngine>()
  for (const entry of registry) {
    const engine = entry.create(config, deps)
    if (engine) built.set(entry.name, engine)
  }
  const preview = built.get('preview')
  if (!preview) throw new Error('the engine registry has no preview engine')
  const configured = [...built.values()].filter((engine) => engine !== preview)
  const forClients = (engine: ImageEngine) =>
    config.allowSimulate && engine !== preview ? withSimulation(engine) : engine
  const table = Object.fromEntries(
    MODEL_IDS.map((id): [ModelId, Route] => {
      const named = config.routes?.[id]
      const chosen = named ? named.engines.map((name) => built.get(name)).filter((e) => e !== undefined) : configured
      const serving = chosen.filter((engine) => engine.supports(id))
      const engines = (serving.length > 0 ? serving : [preview]).map(forClients)
      return [
        id,
        { policy: named?.policy ?? 'failover', engines, ...(named?.weights ? { weights: named.weights } : {}) },
      ]
    }),
  ) as Record<ModelId, Route>
  return {
    router: createEngineRouter(table, {
      priceOf: (engine, model) => config.enginePricesUsd[engine as EngineName]?.[model],
    }),
    names: Object.fromEntries(MODEL_IDS.map((id) => [id, table[id].engines.map((engine) => engine.name)])) as Record<
      ModelId,
      string[]
    >,
    policies: Object.fromEntries(MODEL_IDS.map((id) => [id, table[id].policy])) as Record<ModelId, RoutePolicy>,
    engines: built,
  }
}

/** The largest result file an engine downloads from a provider's CDN. */
const MAX_RESULT_BYTES = 64 * 1024 * 1024

/**
 * How engines fetch result files on hosts other than their API's (fal's and Replicate's CDNs,
 * BFL's delivery hosts): the checked outbound agent, so a provider's answer cannot aim the
 * server at its own network (unless FLUXHOST_ALLOW_PRIVATE_URLS). One agent per process.
 */
export function engineDownloads(config: Pick<Config, 'allowPrivateUrls'>): EngineDeps & { close(): Promise<void> } {
  const outbound = createOutbound({
    allowPrivate: config.allowPrivateUrls,
    timeoutMs: 60_000,
    maxBytes: MAX_RESULT_BYTES,
    maxRedirects: 3,
  })
  return {
    download: async (url, signal) => (await outbound.fetch(url, signal)).data,
    close: () => outbound.close(),
  }
}
