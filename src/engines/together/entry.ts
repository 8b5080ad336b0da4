import type { EngineEntry } from '../engine.js'
import { createTogetherEngine } from './together-engine.js'

/** Together AI's images API, with FLUXHOST_TOGETHER_KEY. */
export const togetherEntry: EngineEntry = {
  name: 'together',
  create: (config, deps) => {
    const p = config.providers.together
    return p
      ? createTogetherEngine({
          apiKey: p.key,
          baseUrl: p.url,
          maxActive: p.maxActive,
          pricesUsd: config.enginePricesUsd.together,
          download: deps?.download,
        })
      : undefined
  },
}
