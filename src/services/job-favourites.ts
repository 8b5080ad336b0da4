import type { Clock } from '../domain/clock.js'
import { FluxhostError } from '../domain/errors.js'
import type { Job } from '../domain/job.js'
import type { JobEvents } from '../queue/job-events.js'
import type { Store } from '../store/store.js'

/**
 * Marks `current` (a job its caller owns, read just before, perhaps from a cache) a favourite or
 * not. The row decides whether that is a change (the copy may be old): saying what it already is
 * writes nothing; a change is told to the key's event stream (its other pages update their star)
 * and to every process's cache of finished jobs, as a `changed` event.
 */
export async function markFavourite(
  /** `forget`: drops a cached copy of the job (before the event: its readers must read the change). */
  deps: { store: Store; events: JobEvents; clock: Clock; forget(id: string): void },
  current: Job,
  favourite: boolean,
): Promise<Job> {
  const marked = await deps.store.jobs.setFavourite(current.id, favourite ? deps.clock.now() : null)
  // Deleted between the read and the write.
  if (!marked) throw new FluxhostError('JOB_NOT_FOUND')
  if (marked.changed) {
    deps.forget(current.id)
    deps.events.publish({ type: 'changed', jobId: current.id })
  }
  return marked.job
}
