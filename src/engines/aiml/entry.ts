import type { EngineEntry } from '../engine.js'
import { createAimlEngine } from './aiml-engine.js'

/** The AIML API, with FLUXHOST_AIML_KEY. */
export const aimlEntry: EngineEntry = {
  name: 'aiml',
  create: (config, deps) => {
    const p = config.providers.aiml
    return p
      ? createAimlEngine({
          apiKey: p.key,
          baseUrl: p.url,
          maxActive: p.maxActive,
          pricesUsd: config.enginePricesUsd.aiml,
          download: deps?.download,
        })
      : undefined
  },
}
