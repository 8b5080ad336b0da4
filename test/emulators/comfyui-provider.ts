import { type ComfyScript, startComfyEmulator } from './comfyui.js'
import type { ProviderEmulator, ProviderScript } from './provider.js'

/** A sampler step that never ends (setTimeout's limit is 2^31 − 1 ms); /interrupt or close() ends it. */
const FOREVER_MS = 2 ** 31 - 1

export interface ComfyProvider extends ProviderEmulator {
  /** Closes `engine` (its websocket) when the emulator closes. */
  adopt<T extends { close(): Promise<void> }>(engine: T): T
}

/**
 * What ComfyUI answers for each refusal it has. It is the operator's own server: no key, no
 * account, no queue limit. Its one refusal of a caller is the origin check's 403, the closest
 * to a refused key; it has no credit to run out of and never answers 429.
 */
const REFUSALS: Partial<Record<NonNullable<ProviderScript['refuse']>, 400 | 403 | 500>> = {
  bad_key: 403,
  invalid: 400,
  server_error: 500,
}

/** The conformance suite's script in ComfyUI's terms. */
function toComfy(s: ProviderScript): ComfyScript {
  // A status read that says "still running" is, over ComfyUI's socket, a sampler step's progress event.
  const steps = s.hang ? 1 : Math.max(s.pendingPolls ?? 2, s.pollErrors || s.delayMs ? 1 : 0)
  return {
    ...(s.refuse ? { submitStatus: REFUSALS[s.refuse] } : {}),
    ...(s.dropSubmit ? { loseAnswer: true } : {}),
    ...(s.outcome === 'error' ? { error: 'CUDA error: an illegal memory access was encountered' } : {}),
    steps,
    ...(s.hang ? { stepMs: FOREVER_MS } : s.delayMs ? { stepMs: Math.ceil(s.delayMs / steps) } : {}),
    // The engine reads /history (its status read) only when the socket may have missed events:
    // a blip is the socket dropping after the first step and the first reads of /history failing.
    ...(s.pollErrors ? { historyErrors: s.pollErrors, dropSocketsAfterStep: 1 } : {}),
  }
}

/**
 * The ComfyUI emulator driven by the conformance suite's ProviderScript: `refuse` as REFUSALS
 * says (no_credit and rate_limited do not exist and throw), `invalid` a 400 with node_errors,
 * `dropSubmit` the prompt queued and the connection cut, `outcome: 'error'` an execution_error;
 * ComfyUI moderates nothing, so the moderation outcomes throw too (the case skips them).
 * `pendingPolls` is the sampler's steps, `hang` a step that never ends, `delayMs` spread over
 * the steps. Submits are the POST /prompt requests; cancels the prompts deleted from the queue
 * or interrupted; active the prompts queued or running. ComfyUI takes no key: `key` is only
 * reported back.
 */
export async function startComfyProvider(key = ''): Promise<ComfyProvider> {
  let current: ProviderScript = {}
  const emulator = await startComfyEmulator({ script: () => toComfy(current) })
  const engines: { close(): Promise<void> }[] = []
  return {
    url: emulator.url,
    key,
    script(next) {
      if (next.refuse && !REFUSALS[next.refuse]) throw new Error(`ComfyUI has no '${next.refuse}' refusal`)
      if (next.outcome === 'request_moderated' || next.outcome === 'content_moderated')
        throw new Error('ComfyUI moderates nothing: fluxhost checks prompts and images itself')
      current = next
    },
    submits: emulator.submits,
    cancels: emulator.cancels,
    active: emulator.inQueue,
    adopt(engine) {
      engines.push(engine)
      return engine
    },
    async close() {
      await Promise.all(engines.map((engine) => engine.close()))
      await emulator.close()
    },
  }
}
