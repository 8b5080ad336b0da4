import type { ImageEngine } from './engine.js'
import { abortableDelay, EngineError } from './engine-error.js'

/**
 * Applies `X-Fluxhost-Simulate` around an engine that does not simulate by itself; used
 * only when FLUXHOST_ALLOW_SIMULATE=1 (the preview engine simulates on its own).
 */
export function withSimulation(engine: ImageEngine): ImageEngine {
  return {
    name: engine.name,
    local: engine.local,
    upsamplesPrompts: engine.upsamplesPrompts,
    cancelsUpstream: engine.cancelsUpstream,
    duplicateHarmless: engine.duplicateHarmless,
    takesImagePrompt: engine.takesImagePrompt,
    check: engine.check ? (signal) => engine.check!(signal) : undefined,
    supports: (model) => engine.supports(model),
    close: engine.close ? () => engine.close!() : undefined,
    verifyPush: engine.verifyPush ? (call) => engine.verifyPush!(call) : undefined,
    async generate(task, ctx) {
      const simulate = task.simulate
      if (!simulate) return engine.generate(task, ctx)
      if (simulate.fail === 'request_moderated')
        throw new EngineError('request_moderated', 'simulated: the prompt was flagged (X-Fluxhost-Simulate)')
      if (simulate.slowMs) await abortableDelay(simulate.slowMs, ctx.signal)
      if (simulate.fail === 'error')
        throw new EngineError('failed', 'simulated: the upstream engine failed (X-Fluxhost-Simulate)')
      const output = await engine.generate({ ...task, simulate: undefined }, ctx)
      if (simulate.fail === 'content_moderated')
        throw new EngineError('content_moderated', 'simulated: the output was flagged (X-Fluxhost-Simulate)')
      return output
    },
  }
}
