/** What the fal and SeaArt engines share: both follow a queued request through status, result and cancel URLs. */
import { EngineError } from '../engine-error.js'
import type { UpstreamClient } from '../upstream-client.js'

/** A cancel gets this long of its own: the job's signal has usually aborted already. */
const CANCEL_TIMEOUT_MS = 5_000

/** PUTs a request's cancel URL: best effort, never throws; true when the provider took it. */
export async function cancelQueued(http: UpstreamClient, cancelUrl: string): Promise<boolean> {
  try {
    const answer = await http.send('PUT', cancelUrl, {
      signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS),
      timeoutMs: CANCEL_TIMEOUT_MS,
    })
    return answer.status >= 200 && answer.status < 300
  } catch {
    return false
  }
}

export interface AcceptedRequest {
  provider: string
  id: string
  signal: AbortSignal
  cancel(): Promise<boolean>
}

/**
 * Follows a request the provider accepted. Whatever ends the wait before the request ended
 * there (an abort, the task timeout, polls that kept failing) cancels it upstream too, so it
 * neither runs on unseen nor keeps a slot of the account's concurrency; an abort becomes
 * `canceled`. `follow` calls `ended()` once the provider says the request is over.
 */
export async function followAccepted<T>(
  request: AcceptedRequest,
  follow: (ended: () => void) => Promise<T>,
): Promise<T> {
  let ended = false
  try {
    return await follow(() => {
      ended = true
    })
  } catch (error) {
    const canceled = ended ? undefined : await request.cancel()
    if (request.signal.aborted) {
      const upstream =
        canceled === undefined
          ? ''
          : canceled
            ? `; ${request.provider} request ${request.id} was canceled there`
            : `; ${request.provider} did not confirm canceling request ${request.id} (it may run on and be billed)`
      throw new EngineError('canceled', `canceled while following ${request.provider}${upstream}`, {
        cause: error,
        requestId: request.id,
      })
    }
    throw withRequestId(error, request.id)
  }
}

/** The error, naming the provider's request id when it did not yet (for support). */
function withRequestId(error: unknown, id: string): unknown {
  if (!(error instanceof EngineError) || error.requestId) return error
  return new EngineError(error.kind, error.message, {
    cause: error.cause,
    retryAfterMs: error.retryAfterMs,
    submitLost: error.submitLost,
    requestId: id,
  })
}
