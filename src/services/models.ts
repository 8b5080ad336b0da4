import type { Clock } from '../domain/clock.js'
import { getModel, MODEL_IDS, type ModelId, type ModelSpec } from '../domain/models.js'
import type { RoutePolicy } from '../domain/routing.js'
import type { EngineCheck, ImageEngine } from '../engines/engine.js'
import type { EngineHealthSnapshot } from '../engines/health.js'
import type { EngineRouter } from '../engines/router.js'

export interface EngineStatus {
  name: string
  reachable: boolean
  detail: string
  /** What the engine charges per image for this model (USD), when known. */
  priceUsd?: number
  /** This process's view: circuit state, recent latency, the last hour's jobs and failure rate. */
  health?: EngineHealthSnapshot
}

export interface ModelInfo extends ModelSpec {
  priceUsd: number
  engines: string[]
  /** How the route picks the first engine: failover, cheapest, fastest or weighted. */
  policy: RoutePolicy
  /** Each engine's last check (at most `CHECK_TTL_MS` old), in the same order. */
  engineStatus: EngineStatus[]
}

/** Engine checks are cached this long, so /api/models does not hit upstreams per request. */
const CHECK_TTL_MS = 30_000

/** The models this server serves, their prices and engines, and whether each engine works: no records needed. */
export function createModelCatalog(deps: {
  router: EngineRouter
  clock: Clock
  pricesUsd: Readonly<Record<ModelId, number>>
  /** What each engine charges per image and model (config.enginePricesUsd). */
  enginePricesUsd?: Readonly<Partial<Record<string, Partial<Record<ModelId, number>>>>>
}) {
  const { router, clock, pricesUsd } = deps
  const checks = new Map<string, { at: number; result: Promise<EngineCheck> }>()
  const checkEngine = (engine: ImageEngine, fresh: boolean): Promise<EngineCheck> => {
    const cached = checks.get(engine.name)
    if (!fresh && cached && clock.now() - cached.at < CHECK_TTL_MS) return cached.result
    const result = engine.check
      ? engine.check(AbortSignal.timeout(15_000))
      : Promise.resolve({ reachable: true, detail: 'no check' })
    checks.set(engine.name, { at: clock.now(), result })
    return result
  }
  return {
    async models(options: { fresh?: boolean } = {}): Promise<ModelInfo[]> {
      return Promise.all(
        MODEL_IDS.map(async (id) => {
          const engines = router.enginesFor(id)
          const health = router.health()
          const status = await Promise.all(
            engines.map(async (engine): Promise<EngineStatus> => {
              const price = deps.enginePricesUsd?.[engine.name]?.[id]
              const seen = health[engine.name]
              return {
                name: engine.name,
                ...(await checkEngine(engine, options.fresh ?? false)),
                ...(price === undefined ? {} : { priceUsd: price }),
                ...(seen ? { health: seen } : {}),
              }
            }),
          )
          return {
            ...getModel(id),
            priceUsd: pricesUsd[id],
            engines: engines.map((e) => e.name),
            policy: router.policyOf(id),
            engineStatus: status,
          }
        }),
      )
    },
  }
}
