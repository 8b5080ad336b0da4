import { type ErrorCode, FluxhostError, jobFailure } from '../../../domain/errors.js'
import type { Job } from '../../../domain/job.js'

/**
 * An error answered from a job that exists: the answer names the job, and a retry cannot
 * help (the job goes on, or has ended; and a timed-out job is left for a retry to join: leaveForRetry).
 */
export class JobAnswerError extends FluxhostError {
  constructor(
    readonly jobId: string,
    code: ErrorCode,
    message?: string,
  ) {
    super(code, message === undefined ? {} : { message })
  }
}

/** The wait outlived FLUXHOST_SYNC_TIMEOUT_S; the job goes on. */
export const syncTimeout = (jobId: string) => new JobAnswerError(jobId, 'SYNC_TIMEOUT')

/** A job that ended without images (failed, moderated, canceled), as its error. */
export function jobFailed(job: Job): JobAnswerError {
  const error = jobFailure(job.error)
  return new JobAnswerError(job.id, error.code, error.message)
}

/**
 * Whether OpenAI's SDKs should retry this answer (`x-should-retry`, which they obey before
 * their status rules). Never an answer from a job: its call has its one job already, which
 * goes on (504) or has ended (a failed job is not charged, but its retry would be a second
 * job). Otherwise the registry's `retryable`: a 429 or 503 made no job, and a 500 before the
 * job was made left nothing to double (the route also says false for any error once a job exists).
 */
export function shouldRetry(error: FluxhostError): boolean {
  return !(error instanceof JobAnswerError) && error.retryable
}
