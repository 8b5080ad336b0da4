import type { EngineEntry } from '../engine.js'
import { createFalEngine } from './fal-engine.js'

/** fal.ai's queue, with FLUXHOST_FAL_KEY. */
export const falEntry: EngineEntry = {
  name: 'fal',
  create: (config, deps) => {
    const fal = config.providers.fal
    return fal
      ? createFalEngine({
          apiKey: fal.key,
          baseUrl: fal.url,
          maxActive: fal.maxActive,
          pricesUsd: config.enginePricesUsd.fal,
          download: deps?.download,
          jwksUrl: config.falJwksUrl,
        })
      : undefined
  },
}
