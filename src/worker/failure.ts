import type { Logger } from 'pino'
import { backoffDelay } from '../domain/backoff.js'
import { ERRORS, type ErrorCode } from '../domain/errors.js'
import type { Job } from '../domain/job.js'
import { type EngineErrorKind, isEngineError } from '../engines/engine-error.js'
import { type EngineAttempt, RoutedEngineError } from '../engines/router.js'
import { ABORT, type AbortReason, type RunJobDeps } from './deps.js'

/** Between attempts of a job whose engine was unavailable, or that failed inside fluxhost. */
const RETRY_BACKOFF = { initialMs: 1_000, factor: 2, maxMs: 60_000 }

type Decision =
  | { kind: 'fail'; code: ErrorCode; message: string }
  | { kind: 'retry'; delayMs: number; code: ErrorCode; message: string }

/** The one place that turns an engine failure into what happens to the job. */
export function decide(
  kind: EngineErrorKind,
  message: string,
  attempts: number,
  maxAttempts: number,
  retryAfterMs?: number,
): Decision {
  const retryOr = (code: ErrorCode, delayMs: number): Decision =>
    attempts < maxAttempts ? { kind: 'retry', delayMs, code, message } : { kind: 'fail', code, message }
  switch (kind) {
    case 'request_moderated':
      return { kind: 'fail', code: 'REQUEST_MODERATED', message }
    case 'content_moderated':
      return { kind: 'fail', code: 'CONTENT_MODERATED', message }
    case 'invalid':
      return { kind: 'fail', code: 'VALIDATION_FAILED', message }
    case 'insufficient_credits':
      return { kind: 'fail', code: 'INSUFFICIENT_CREDITS', message }
    case 'failed':
      return { kind: 'fail', code: 'GENERATION_FAILED', message }
    case 'canceled':
      // Our own aborts are settled before this; an engine that cancels by itself failed.
      return { kind: 'fail', code: 'GENERATION_FAILED', message: `the engine stopped the generation: ${message}` }
    case 'rate_limited':
      return retryOr('RATE_LIMITED', retryAfterMs ?? 5_000)
    case 'unavailable':
      return retryOr('ENGINE_UNAVAILABLE', backoffDelay(attempts, RETRY_BACKOFF))
    default: {
      const unreachable: never = kind
      throw new Error(`unhandled engine error kind ${String(unreachable)}`)
    }
  }
}

function describeAttempts(attempts: readonly EngineAttempt[]): string {
  return attempts.map((a) => (a.error ? `${a.engine}: ${a.error.kind}` : `${a.engine}: ok`)).join('; ')
}

/** Ends or retries a failed attempt; every write names the attempt's lease token (`lease`). */
export async function settleFailure(
  job: Job,
  lease: string,
  error: unknown,
  reason: AbortReason | undefined,
  engine: string | null,
  deps: RunJobDeps,
  log: Logger,
): Promise<void> {
  const { queue, store, events, clock, metrics } = deps
  if (reason === ABORT.shutdown) {
    const released = await queue.release(job.id, lease)
    log.info({ released }, 'job:released (shutdown)')
    return
  }
  if (reason === ABORT.canceled || reason === ABORT.leaseLost) {
    log.info({ reason }, 'job:aborted')
    return
  }
  let decision: Decision
  if (isEngineError(error)) {
    // After a failover, the message names every engine tried and why each gave up.
    const tried =
      error instanceof RoutedEngineError && error.attempts.length > 1
        ? ` (engines tried: ${describeAttempts(error.attempts)})`
        : ''
    decision = decide(error.kind, `${error.message}${tried}`, job.attempts, deps.maxAttempts, error.retryAfterMs)
  } else {
    // Not an engine's verdict (disk full, encoder crash): worth another attempt.
    log.error({ err: error }, 'job:internal-error')
    decision =
      job.attempts < deps.maxAttempts
        ? {
            kind: 'retry',
            delayMs: backoffDelay(job.attempts, RETRY_BACKOFF),
            code: 'INTERNAL_ERROR',
            message: ERRORS.INTERNAL_ERROR.message,
          }
        : { kind: 'fail', code: 'INTERNAL_ERROR', message: ERRORS.INTERNAL_ERROR.message }
  }
  if (decision.kind === 'retry') {
    await queue.retryLater(job.id, lease, decision.delayMs)
    log.warn({ code: decision.code, delayMs: decision.delayMs }, 'job:retrying')
    return
  }
  const failed = await store.jobs.fail(job.id, lease, {
    error: { code: decision.code, message: decision.message },
    engine,
    now: clock.now(),
  })
  if (failed) {
    metrics.jobsFinished.inc({ state: 'failed' })
    events.publish({ type: 'state', jobId: job.id, state: 'failed', webhook: Boolean(job.request.webhook) })
    log.info({ code: decision.code }, 'job:failed')
  }
}
