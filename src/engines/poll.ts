import { createBackoff } from '../domain/backoff.js'
import { abortableDelay, EngineError, isEngineError, throwIfAborted } from './engine-error.js'

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
  /** The first wait, when the engine knows about how long its tasks take (else `minMs`). */
  firstDelayMs?: number
  /** A provider's callback: resolving ends the current wait early (the task has ended). */
  wake?: (signal: AbortSignal) => Promise<void>
}

/**
 * The durations of an engine's recent tasks, so its first poll comes just before the usual end
 * instead of on a fixed schedule: a 2 s task is then seen ready within a fast poll or two.
 */
export function createDurations(size = 20) {
  const recent: number[] = []
  return {
    add(ms: number): void {
      recent.push(ms)
      if (recent.length > size) recent.shift()
    },
    /** The median of the recent ones, once there are three. */
    median(): number | undefined {
      if (recent.length < 3) return undefined
      return [...recent].sort((a, b) => a - b)[Math.floor(recent.length / 2)]
    },
  }
}

/** Waits `ms`, or less if `wake` resolves first; rejects (canceled) when the signal aborts. */
async function waitOrWake(ms: number, signal: AbortSignal, wake?: PollOptions['wake']): Promise<void> {
  if (!wake) return abortableDelay(ms, signal)
  const done = new AbortController()
  const both = AbortSignal.any([signal, done.signal])
  const delay = abortableDelay(ms, both)
  const woken = wake(both)
  // The loser rejects when `done` aborts below; that is expected, not an error.
  delay.catch(() => undefined)
  woken.catch(() => undefined)
  try {
    await Promise.race([delay, woken])
  } catch {
    // aborted: checked below
  } finally {
    done.abort()
  }
  throwIfAborted(signal)
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
  let first = options.firstDelayMs
  for (;;) {
    const delay = first ?? backoff.next()
    first = undefined
    await waitOrWake(Math.max(wait ?? 0, delay), options.signal, options.wake)
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
