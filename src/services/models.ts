import type { Clock } from '../domain/clock.js'
import { getModel, MODEL_IDS, type ModelId, type ModelSpec } from '../domain/models.js'
import type { EngineCheck, ImageEngine } from '../engines/engine.js'
import type { EngineRouter } from '../engines/router.js'

export interface ModelInfo extends ModelSpec {
  priceUsd: number
  engines: string[]
  /** Each engine's last check (at most `CHECK_TTL_MS` old), in the same order. */
  engineStatus: { name: string; reachable: boolean; detail: string }[]
}

/** Engine checks are cached this long, so /api/models does not hit upstreams per request. */
const CHECK_TTL_MS = 30_000

/** The models this server serves, their prices and engines, and whether each engine works: no records needed. */
export function createModelCatalog(deps: {
  router: EngineRouter
  clock: Clock
  pricesUsd: Readonly<Record<ModelId, number>>
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
          const status = await Promise.all(
            engines.map(async (engine) => ({
              name: engine.name,
              ...(await checkEngine(engine, options.fresh ?? false)),
            })),
          )
          return { ...getModel(id), priceUsd: pricesUsd[id], engines: engines.map((e) => e.name), engineStatus: status }
        }),
      )
    },
  }
}
