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
  /**
   * Learns the engine's usual task time: when the task ends, the time of the last poll that
   * still saw it running (measured from `startedAt`, the submit) is added to `durations`.
   */
  learn?: { durations: Durations; startedAt: number }
}

export type Durations = ReturnType<typeof createDurations>
export type Wake = (signal: AbortSignal) => Promise<void>

/**
 * How an engine polls its tasks. With a provider callback, polls are a slow safety net the
 * callback cuts short. Without one, once three tasks have ended, the first poll comes at the
 * usual end (the median time of the last poll that still saw a task running, a lower bound of
 * its true end), then fast polls 100 ms apart growing ×1.25; before that, `minMs` growing ×1.5.
 */
export function createTaskTimer(options: { pollMinMs: number; pollMaxMs: number; pushPollMs?: number }) {
  // Learnt per kind of task (model, images): an ultra task's time says nothing of a dev one's.
  const byKind = new Map<string, Durations>()
  const durationsOf = (kind: string) => {
    let d = byKind.get(kind)
    if (!d) byKind.set(kind, (d = createDurations()))
    return d
  }
  return {
    /** The schedule of one task submitted at `startedAt`. */
    schedule(
      startedAt: number,
      wake?: Wake,
      kind = '',
    ): Pick<PollOptions, 'minMs' | 'maxMs' | 'factor' | 'firstDelayMs' | 'wake' | 'learn'> {
      const durations = durationsOf(kind)
      const learn = { durations, startedAt }
      const safety = options.pushPollMs ?? 2_000
      if (wake) return { minMs: safety, maxMs: safety * 5, wake, learn }
      const usual = durations.median()
      if (usual === undefined) return { minMs: options.pollMinMs, maxMs: options.pollMaxMs, learn }
      const first = Math.max(50, usual - (Date.now() - startedAt))
      return {
        firstDelayMs: first,
        minMs: Math.min(options.pollMinMs, 100),
        maxMs: options.pollMaxMs,
        factor: 1.25,
        learn,
      }
    },
    /** The usual task time this timer has learned for a kind of task, if any. */
    usual: (kind = '') => byKind.get(kind)?.median(),
  }
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
  /** When a poll last saw the task still running: the task ended after it. */
  let lastPending: number | undefined
  let firstPoll: number | undefined
  for (;;) {
    const delay = first ?? backoff.next()
    first = undefined
    await waitOrWake(Math.max(wait ?? 0, delay), options.signal, options.wake)
    wait = undefined
    if (Date.now() - started > options.timeoutMs)
      throw new EngineError('failed', `${options.what} had not ended after ${Math.round(options.timeoutMs / 1000)} s`)
    try {
      firstPoll ??= Date.now()
      const done = await step(control)
      failingSince = undefined
      if (done !== undefined) {
        if (options.learn) {
          const { durations, startedAt } = options.learn
          // Seen done at the first poll: it ended earlier than that, by how much is unknown.
          durations.add(lastPending !== undefined ? lastPending - startedAt : (firstPoll - startedAt) * 0.8)
        }
        return done
      }
      lastPending = Date.now()
    } catch (error) {
      if (!isEngineError(error)) throw error
      // The task was accepted (and may be billed): a read refused for the account or the
      // request is no reason to make the image elsewhere too. It ends here, named lost.
      if (error.kind === 'invalid' || error.kind === 'insufficient_credits')
        throw new EngineError('failed', `${error.message} (while following ${options.what}, which may still run)`, {
          cause: error,
          submitLost: true,
          requestId: error.requestId,
        })
      if (error.kind !== 'unavailable' && error.kind !== 'rate_limited') throw error
      failingSince ??= Date.now()
      if (Date.now() - failingSince > unreachableMs)
        // The task was accepted: it may still run (and be billed) there, so this is no failover.
        throw new EngineError(
          'failed',
          `${options.what} could not be followed for ${Math.round(unreachableMs / 1000)} s (${error.message}); ` +
            'it may still run there',
          { cause: error, submitLost: true, requestId: error.requestId },
        )
      // A long Retry-After on a read is not waited out past the limits below.
      if (error.kind === 'rate_limited') wait = Math.min(error.retryAfterMs ?? 0, unreachableMs / 4)
    }
  }
}
