import type { Job } from '../domain/job.js'

/** What a dialect says of a job that retention pruned, where it has room for words. */
export const EXPIRED_MESSAGE =
  'The images of this task were deleted after the retention period (FLUXHOST_RETENTION); ' +
  'its prompt and inputs were scrubbed.'

/** Whether retention pruned the job: it then reads with no images (and no file URLs). */
export function isPruned(job: Job): boolean {
  return job.prunedAt != null
}
