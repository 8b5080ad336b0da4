import type { EngineEntry } from '../engine.js'
import { createApiframeEngine } from './apiframe-engine.js'

/** Apiframe's v2 API (FLUX 1.1 [pro] and ultra), with FLUXHOST_APIFRAME_KEY. */
export const apiframeEntry: EngineEntry = {
  name: 'apiframe',
  create: (config, deps) => {
    const provider = config.providers.apiframe
    return provider
      ? createApiframeEngine({
          apiKey: provider.key,
          baseUrl: provider.url,
          maxActive: provider.maxActive,
          pricesUsd: config.enginePricesUsd.apiframe,
          download: deps?.download,
        })
      : undefined
  },
}
