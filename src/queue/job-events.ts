import type { JobState } from '../domain/job.js'

export type JobEvent =
  /**
   * `webhook`: whether the job has a webhook (its end made a delivery); false lets the webhook
   * dispatcher skip looking. Unset: unknown, it looks.
   */
  | { type: 'state'; jobId: string; state: JobState; webhook?: boolean }
  | { type: 'progress'; jobId: string; progress: number }
  /** The record changed, but not its state (its owner marked it a favourite, or deleted it): read it again. */
  | { type: 'changed'; jobId: string }
  /** Asks whichever worker runs the job to abort it (the record is already `canceled`). */
  | { type: 'cancel'; jobId: string }
  /** A webhook delivery of the job is due now (it was asked for again): dispatchers look. */
  | { type: 'delivery'; jobId: string }
  /** An engine's provider called back (verified): task `task` of the job has ended upstream. */
  | { type: 'upstream'; jobId: string; engine: string; task: number }

export type JobEventListener = (event: JobEvent) => void

/**
 * Job events: progress and state for server-sent events and waiters, cancel signals for
 * workers, wake-ups for idle workers and webhook dispatchers. Within one process they are
 * delivered at once; across processes (shared records) as the channel carries them, at most
 * once. A listener must never rely on seeing every event, only on the records.
 */
export interface JobEvents {
  publish(event: JobEvent): void
  subscribe(jobId: string, listener: JobEventListener): () => void
  /** Every job's events. */
  subscribeAll(listener: JobEventListener): () => void
}

export function createLocalJobEvents(): JobEvents {
  const byJob = new Map<string, Set<JobEventListener>>()
  const everyJob = new Set<JobEventListener>()
  return {
    publish(event) {
      // Copies: a listener may unsubscribe itself while we iterate.
      for (const listener of [...everyJob]) listener(event)
      const listeners = byJob.get(event.jobId)
      if (listeners) for (const listener of [...listeners]) listener(event)
    },
    subscribeAll(listener) {
      everyJob.add(listener)
      return () => everyJob.delete(listener)
    },
    subscribe(jobId, listener) {
      let listeners = byJob.get(jobId)
      if (!listeners) {
        listeners = new Set()
        byJob.set(jobId, listeners)
      }
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) byJob.delete(jobId)
      }
    },
  }
}
