import type { JobState } from '../domain/job.js'

export type JobEvent =
  | { type: 'state'; jobId: string; state: JobState }
  | { type: 'progress'; jobId: string; progress: number }
  /** Asks whichever worker runs the job to abort it (the record is already `canceled`). */
  | { type: 'cancel'; jobId: string }

export type JobEventListener = (event: JobEvent) => void

/**
 * Job events within one process: progress and state for server-sent events and waiters,
 * cancel signals for workers. The distributed mode replaces it with pub/sub; a listener
 * must never rely on seeing every progress event, only the latest.
 */
export interface JobEvents {
  publish(event: JobEvent): void
  subscribe(jobId: string, listener: JobEventListener): () => void
  /** Every job's `state` events (the webhook dispatcher wakes on terminal states). */
  subscribeStates(listener: JobEventListener): () => void
  /**
   * `state` events published by this process only (not heard from others): work that one
   * process must do once per transition (adding a finished job's webhook deliveries to BullMQ).
   */
  subscribeOwnStates(listener: JobEventListener): () => void
  /** Every job's `state` and `progress` events. */
  subscribeAll(listener: JobEventListener): () => void
}

export function createLocalJobEvents(): JobEvents {
  const byJob = new Map<string, Set<JobEventListener>>()
  const stateListeners = new Set<JobEventListener>()
  const allListeners = new Set<JobEventListener>()
  return {
    publish(event) {
      if (event.type === 'state') for (const listener of [...stateListeners]) listener(event)
      for (const listener of [...allListeners]) listener(event)
      const listeners = byJob.get(event.jobId)
      if (!listeners) return
      // Copy: a listener may unsubscribe itself while we iterate.
      for (const listener of [...listeners]) listener(event)
    },
    subscribeAll(listener) {
      allListeners.add(listener)
      return () => allListeners.delete(listener)
    },
    subscribeStates(listener) {
      stateListeners.add(listener)
      return () => stateListeners.delete(listener)
    },
    // In one process every event is its own.
    subscribeOwnStates(listener) {
      stateListeners.add(listener)
      return () => stateListeners.delete(listener)
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
