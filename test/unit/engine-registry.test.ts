import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load-config.js'
import { ENGINE_MODELS, ENGINE_NAMES } from '../../src/domain/engines.js'
import { MODEL_IDS } from '../../src/domain/models.js'
import { ENGINE_REGISTRY } from '../../src/engines/registry.js'
import { buildEngineRoutes } from '../../src/engines/routes.js'

const everyEngine = loadConfig({
  FLUXHOST_BFL_API_KEY: 'k',
  FLUXHOST_COMFYUI_URL: 'http://127.0.0.1:8188',
  FLUXHOST_SDCPP_URL: 'http://127.0.0.1:1234',
  FLUXHOST_FAL_KEY: 'k',
  FLUXHOST_REPLICATE_TOKEN: 'k',
  FLUXHOST_TOGETHER_KEY: 'k',
  FLUXHOST_AIML_KEY: 'k',
  FLUXHOST_APIFRAME_KEY: 'k',
  FLUXHOST_SEAART_KEY: 'k',
})

describe('the engine registry', () => {
  it('has every engine once, each serving exactly the models the catalog says', () => {
    expect(ENGINE_REGISTRY.map((entry) => entry.name).sort()).toEqual([...ENGINE_NAMES].sort())
    for (const entry of ENGINE_REGISTRY) {
      const engine = entry.create(everyEngine)!
      expect(engine.name).toBe(entry.name)
      for (const model of MODEL_IDS)
        expect(engine.supports(model), `${entry.name} ${model}`).toBe(ENGINE_MODELS[entry.name].includes(model))
    }
  })

  it('builds only what is configured; routes default to the configured engines in order, else preview', () => {
    expect(ENGINE_REGISTRY.filter((entry) => entry.create(loadConfig({})) !== undefined).map((e) => e.name)).toEqual([
      'preview',
    ])
    expect(buildEngineRoutes(loadConfig({}), ENGINE_REGISTRY).names['flux-pro-1.1']).toEqual(['preview'])
    expect(buildEngineRoutes(everyEngine, ENGINE_REGISTRY).names['flux-pro-1.1']).toEqual([
      'bfl',
      'comfyui',
      'sdcpp',
      'fal',
      'replicate',
      'together',
      'aiml',
      'apiframe',
      'seaart',
    ])
    expect(buildEngineRoutes(everyEngine, ENGINE_REGISTRY).names['flux-pro-1.1-ultra']).toEqual([
      'bfl',
      'comfyui',
      'sdcpp',
      'fal',
      'replicate',
      'aiml',
      'apiframe',
    ])
    const routed = loadConfig({
      FLUXHOST_SDCPP_URL: 'http://127.0.0.1:1234',
      FLUXHOST_ROUTES: 'flux-dev=sdcpp,preview',
    })
    expect(buildEngineRoutes(routed, ENGINE_REGISTRY).names).toMatchObject({
      'flux-dev': ['sdcpp', 'preview'],
      'flux-pro-1.1': ['sdcpp'],
    })
  })
})
