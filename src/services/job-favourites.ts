import type { Clock } from '../domain/clock.js'
import { FluxhostError } from '../domain/errors.js'
import type { Job } from '../domain/job.js'
import type { JobEvents } from '../queue/job-events.js'
import type { Store } from '../store/store.js'

/**
 * Marks `current` (a job its caller owns, read just before) a favourite or not. Saying what it
 * already is writes nothing; a change keeps the time it was marked, and is told to the key's
 * event stream (its other pages update their star) as a `changed` event.
 */
export async function markFavourite(
  /** `forget`: drops a cached copy of the job (before the event: its readers must read the change). */
  deps: { store: Store; events: JobEvents; clock: Clock; forget(id: string): void },
  current: Job,
  favourite: boolean,
): Promise<Job> {
  if (Boolean(current.favouriteAt) === favourite) return current
  const job = await deps.store.jobs.setFavourite(current.id, favourite ? deps.clock.now() : null)
  // Deleted between the read and the write.
  if (!job) throw new FluxhostError('JOB_NOT_FOUND')
  deps.forget(job.id)
  deps.events.publish({ type: 'changed', jobId: job.id })
  return job
}
