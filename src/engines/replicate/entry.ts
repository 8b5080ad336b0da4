import type { EngineEntry } from '../engine.js'
import { createReplicateEngine } from './replicate-engine.js'

/** Replicate's official FLUX models, with FLUXHOST_REPLICATE_TOKEN. */
export const replicateEntry: EngineEntry = {
  name: 'replicate',
  create: (config, deps) => {
    const provider = config.providers.replicate
    return provider
      ? createReplicateEngine({
          apiKey: provider.key,
          baseUrl: provider.url,
          maxActive: provider.maxActive,
          pricesUsd: config.enginePricesUsd.replicate,
          download: deps?.download,
        })
      : undefined
  },
}
