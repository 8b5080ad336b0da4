import type { Job } from '../domain/job.js'

export interface RecoveryReport {
  /** Jobs put back in the queue because their worker died or their lease expired. */
  requeued: string[]
  /** Jobs failed with JOB_ABANDONED: their worker stopped during every attempt. */
  abandoned: string[]
}

export interface ClaimFilter {
  apiKeyId?: string
}

/**
 * Hands queued jobs to workers. The job record is the source of truth; the queue decides
 * who runs what and when. A claimed job is `running` under the claimer's lease until the
 * claimer completes, fails, retries or releases it, or the lease runs out.
 */
export interface JobQueue {
  /**
   * Called once a new job's record has committed; wakes idle workers. `priority` is the
   * record's (higher runs sooner; default 0).
   */
  enqueued(jobId: string, priority?: number): Promise<void>
  /** Work may be ready (another process enqueued it): wakes this process's idle workers. */
  wake(): void
  /** Takes the next ready job (of one key only, with `apiKeyId`), or `undefined` when none is ready. */
  claim(owner: string, filter?: ClaimFilter): Promise<Job | undefined>
  /** Resolves when work may be ready, after `maxWaitMs`, or when `signal` aborts. */
  waitForWork(signal: AbortSignal, maxWaitMs?: number): Promise<void>
  /** Heartbeat: extends the lease and saves progress. False: the lease is gone (canceled or taken). */
  extend(jobId: string, owner: string, progress: number): Promise<boolean>
  /** Back to the queue to run again after `delayMs` (a retryable failure). */
  retryLater(jobId: string, owner: string, delayMs: number): Promise<boolean>
  /** Back to the queue at once, not counting the attempt (graceful shutdown). */
  release(jobId: string, owner: string): Promise<boolean>
  /** Re-queues jobs whose worker is dead or whose lease has expired. */
  recover(self: string): Promise<RecoveryReport>
  /**
   * The claimer is finished with a job (whatever became of it). A dispatch layer over the
   * records (BullMQ) lets go of its entry here; the records queue needs nothing.
   */
  done?(jobId: string, owner: string): Promise<void>
  /** Closes connections of its own (Redis); the records' database is the store's to close. */
  close?(): Promise<void>
  /** Number of jobs waiting in the queue. */
  depth(): Promise<number>
  /** How many queued jobs will be claimed before this one; undefined unless it is queued. */
  positionOf(jobId: string): Promise<number | undefined>
}
