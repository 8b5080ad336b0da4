import { createBackoff } from '../domain/backoff.js'
import { abortableDelay, EngineError, isEngineError } from './engine-error.js'

export interface PollOptions {
  signal: AbortSignal
  /** First delay; it grows ×`factor` (default 1.5) up to `maxMs`. */
  minMs: number
  maxMs: number
  factor?: number
  /** Gives up (failed) when the task has not ended after this long. */
  timeoutMs: number
  /** Transient errors (unavailable, rate limited) are waited out this long in a row (default 60 s). */
  unreachableMs?: number
  /** What is awaited, for the timeout message: `fal's request`. */
  what: string
}

/**
 * Calls `step` with a growing delay before each call until it returns a value. `step` returns
 * undefined while the task runs, and throws to end the wait. Polls are reads, safe to repeat:
 * an `unavailable` or `rate_limited` error from one is waited out (a rate limit's Retry-After
 * wins over the backoff) until `unreachableMs` pass without a good answer; then the job fails
 * with `submitLost` (the accepted task may still run, so no other engine is tried). Abort ends
 * it at once.
 */
export async function pollUntil<T>(
  step: (control: { hurry(): void }) => Promise<T | undefined>,
  options: PollOptions,
): Promise<T> {
  const started = Date.now()
  const backoff = createBackoff({ initialMs: options.minMs, factor: options.factor ?? 1.5, maxMs: options.maxMs })
  const unreachableMs = options.unreachableMs ?? 60_000
  let wait: number | undefined
  let failingSince: number | undefined
  /** Starts the delay over (a task that just began running may end soon). */
  const control = { hurry: () => backoff.reset() }
  for (;;) {
    await abortableDelay(Math.max(wait ?? 0, backoff.next()), options.signal)
    wait = undefined
    if (Date.now() - started > options.timeoutMs)
      throw new EngineError('failed', `${options.what} had not ended after ${Math.round(options.timeoutMs / 1000)} s`)
    try {
      const done = await step(control)
      failingSince = undefined
      if (done !== undefined) return done
    } catch (error) {
      if (!isEngineError(error) || (error.kind !== 'unavailable' && error.kind !== 'rate_limited')) throw error
      failingSince ??= Date.now()
      if (Date.now() - failingSince > unreachableMs)
        // The task was accepted: it may still run (and be billed) there, so this is no failover.
        throw new EngineError(
          'failed',
          `${options.what} could not be followed for ${Math.round(unreachableMs / 1000)} s (${error.message}); ` +
            'it may still run there',
          { cause: error, submitLost: true, requestId: error.requestId },
        )
      if (error.kind === 'rate_limited') wait = error.retryAfterMs
    }
  }
}
