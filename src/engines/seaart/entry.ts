import type { EngineEntry } from '../engine.js'
import { createSeaartEngine } from './seaart-engine.js'

/** SeaArt's model queue API, with FLUXHOST_SEAART_KEY. */
export const seaartEntry: EngineEntry = {
  name: 'seaart',
  create: (config, deps) => {
    const seaart = config.providers.seaart
    return seaart
      ? createSeaartEngine({
          apiKey: seaart.key,
          baseUrl: seaart.url,
          maxActive: seaart.maxActive,
          pricesUsd: config.enginePricesUsd.seaart,
          download: deps?.download,
        })
      : undefined
  },
}
