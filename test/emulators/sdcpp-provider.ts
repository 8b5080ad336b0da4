import type { ProviderEmulator, ProviderScript } from './provider.js'
import { type SdcppScript, startSdcppEmulator } from './sdcpp.js'

/** A step that never ends (setTimeout's limit is 2^31 − 1 ms); a cancel or close() ends it. */
const FOREVER_MS = 2 ** 31 - 1

/**
 * What sd-server answers for each refusal it has (api-anchors.md §5: 400 invalid, 429 queue
 * full, 500). It has no authentication and no account: no key to refuse, no credit to run out of.
 */
const REFUSALS: Partial<Record<NonNullable<ProviderScript['refuse']>, { status: number; error: string }>> = {
  rate_limited: { status: 429, error: 'job queue is full' },
  invalid: { status: 400, error: 'width must be between 64 and 4096' },
  server_error: { status: 500, error: 'internal server error' },
}

/** The conformance suite's script in sd-server's terms. */
function toSdcpp(s: ProviderScript): SdcppScript {
  // The job runs on sd-server's clock: each step is a poll or so answered "generating".
  const steps = s.hang ? 1 : Math.max(s.pendingPolls ?? 2, s.delayMs ? 1 : 0)
  const refusal = s.refuse ? REFUSALS[s.refuse] : undefined
  return {
    ...(refusal ? { submitStatus: refusal.status, submitBody: { error: refusal.error } } : {}),
    // Whether sd-server sends Retry-After with its 429 is not documented: the script's is passed on.
    ...(refusal && s.retryAfterS !== undefined ? { submitHeaders: { 'retry-after': String(s.retryAfterS) } } : {}),
    ...(s.dropSubmit ? { dropSubmit: true } : {}),
    ...(s.outcome === 'error' ? { outcome: 'failed' } : {}),
    steps,
    ...(s.hang ? { stepMs: FOREVER_MS } : s.delayMs ? { stepMs: Math.ceil(s.delayMs / steps) } : {}),
    ...(s.pollErrors ? { pollErrors: s.pollErrors } : {}),
  }
}

/**
 * The sd-server emulator (native async API) driven by the conformance suite's ProviderScript:
 * `refuse` as REFUSALS says (bad_key and no_credit do not exist and throw), `dropSubmit` the
 * job queued and the connection cut, `outcome: 'error'` a failed job; sd-server moderates
 * nothing, so the moderation outcomes throw too (the case skips them). `pendingPolls` is the
 * job's steps, `pollErrors` 503s to its first polls, `hang` a step that never ends, `delayMs`
 * spread over the steps. Submits are the POST /sdcpp/v1/img_gen requests; cancels the jobs
 * canceled; active the jobs queued or generating. sd-server takes no key: `key` is only
 * reported back.
 */
export async function startSdcppProvider(key = ''): Promise<ProviderEmulator> {
  let current: ProviderScript = {}
  const emulator = await startSdcppEmulator({ script: () => toSdcpp(current) })
  return {
    url: emulator.url,
    key,
    script(next) {
      if (next.refuse && !REFUSALS[next.refuse]) throw new Error(`sd-server has no '${next.refuse}' refusal`)
      if (next.outcome === 'request_moderated' || next.outcome === 'content_moderated')
        throw new Error('sd-server moderates nothing: fluxhost checks prompts and images itself')
      current = next
    },
    submits: emulator.received,
    cancels: emulator.cancels,
    active: emulator.inQueue,
    close: emulator.close,
  }
}
