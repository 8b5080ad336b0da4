import { isTerminal, type Job } from '../domain/job.js'
import type { Store } from '../store/store.js'

/**
 * Finished jobs, kept in memory: polls of them (the most common read) skip the database. A
 * finished job changes only when its owner deletes it or marks it a favourite, or retention
 * prunes it: each `forget`s it here, and every other process hears of it (a `changed` or `state`
 * event, retention's own forget). The whole cache is also dropped whenever another process
 * writes the records (`store.dataVersion`: at once on SQLite, each second on PostgreSQL).
 */
export function createFinishedJobs(store: Store, max = 10_000) {
  const jobs = new Map<string, Job>()
  let version = -1
  // Bumped by each forget: a read that began before one does not put back the row it dropped.
  let generation = 0
  return {
    async read(id: string): Promise<Job | undefined> {
      const now = store.dataVersion()
      if (now !== version) {
        jobs.clear()
        version = now
      }
      const hit = jobs.get(id)
      if (hit) return hit
      const began = generation
      const job = await store.jobs.get(id)
      if (job && isTerminal(job.state) && began === generation) {
        if (jobs.size >= max) jobs.delete(jobs.keys().next().value!)
        jobs.set(id, job)
      }
      return job
    },
    forget(id: string): void {
      generation++
      jobs.delete(id)
    },
  }
}
