import { setTimeout as sleep } from 'node:timers/promises'
/**
 * How an engine failed. The worker decides what to do from the kind alone, in one
 * exhaustive switch; each engine maps its upstream's errors onto these.
 */
export type EngineErrorKind =
  /** The input was flagged before generation. Not charged, not retried. */
  | 'request_moderated'
  /** The output was flagged. Not charged, not retried. */
  | 'content_moderated'
  /** The upstream rejected the task as invalid. Not retried. */
  | 'invalid'
  /** Try again after `retryAfterMs`. */
  | 'rate_limited'
  /** The engine cannot serve now; another engine may. */
  | 'unavailable'
  /** The upstream account cannot pay; another engine may. */
  | 'insufficient_credits'
  /** The signal aborted the generation. */
  | 'canceled'
  /** Generation failed; retrying will not help. */
  | 'failed'

export interface EngineErrorOptions {
  retryAfterMs?: number
  cause?: unknown
  /**
   * A submit was sent but its answer was lost (a reset, a timeout, a 5xx the provider may
   * have billed): the task may exist upstream. It is never sent again to that provider, and
   * the router fails over only to engines where a duplicate is harmless.
   */
  submitLost?: boolean
  /** The upstream's id for the request, when it gave one (for messages and support). */
  requestId?: string
}

export class EngineError extends Error {
  readonly kind: EngineErrorKind
  readonly retryAfterMs: number | undefined
  readonly submitLost: boolean
  readonly requestId: string | undefined

  constructor(kind: EngineErrorKind, message: string, options: EngineErrorOptions = {}) {
    super(message, { cause: options.cause })
    this.name = 'EngineError'
    this.kind = kind
    this.retryAfterMs = options.retryAfterMs
    this.submitLost = options.submitLost ?? false
    this.requestId = options.requestId
  }
}

export function isEngineError(error: unknown): error is EngineError {
  return error instanceof EngineError
}

/** Rejects with a `canceled` EngineError when the signal aborts. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new EngineError('canceled', 'generation was aborted', { cause: signal.reason })
}

/** Waits `ms`, or rejects at once with a `canceled` EngineError when the signal aborts. */
export async function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  throwIfAborted(signal)
  if (ms <= 0) return
  await sleep(ms, undefined, { signal }).catch(() => throwIfAborted(signal))
}

/**
 * Whether a job made one task per image keeps the images already made when task `made` fails:
 * those were accepted (and billed), so they are returned — charged pro rata, the job's result
 * naming `num_images` as not honoured — rather than made (and paid for) again by another engine
 * or a later attempt. A cancel ends the job as canceled; a failure of the first task is itself.
 */
export function keepsMade(error: unknown, made: number): error is EngineError {
  return made > 0 && isEngineError(error) && error.kind !== 'canceled'
}
