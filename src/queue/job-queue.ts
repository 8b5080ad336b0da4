import type { Clock } from '../domain/clock.js'
import type { Job } from '../domain/job.js'
import type { Store } from '../store/store.js'
import type { JobEvents } from './job-events.js'
import { isOwnerDead } from './owner.js'
import { createWakeups } from './wakeups.js'

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
 * Hands queued jobs to workers. The jobs table is the queue: a queued row is a queue entry,
 * so a job and its entry are written by one insert and change together in one guarded
 * statement. A claimed job is `running` under the claimer's lease until the claimer
 * completes, fails, retries or releases it, or the lease runs out.
 */
export interface JobQueue {
  /** Takes the next ready job (of one key only, with `apiKeyId`), or `undefined` when none is ready. */
  claim(owner: string, filter?: ClaimFilter): Promise<Job | undefined>
  /**
   * Resolves when work may be ready (for `filter`'s claims), after `maxWaitMs` (default: the
   * poll interval), or when `signal` aborts.
   */
  waitForWork(signal: AbortSignal, options?: { maxWaitMs?: number; filter?: ClaimFilter }): Promise<void>
  /** Heartbeat: extends the lease and saves progress. False: the lease is gone (canceled or taken). */
  extend(jobId: string, owner: string, progress: number): Promise<boolean>
  /** Back to the queue to run again after `delayMs` (a retryable failure). */
  retryLater(jobId: string, owner: string, delayMs: number): Promise<boolean>
  /** Back to the queue at once, not counting the attempt (graceful shutdown). */
  release(jobId: string, owner: string): Promise<boolean>
  /** Re-queues jobs whose worker is dead or whose lease has expired. */
  recover(self: string): Promise<RecoveryReport>
  /** Number of jobs waiting in the queue. */
  depth(): Promise<number>
  /** How many queued jobs will be claimed before this one; undefined unless it is queued. */
  positionOf(jobId: string): Promise<number | undefined>
}

export interface JobQueueOptions {
  store: Store
  events: JobEvents
  clock: Clock
  leaseMs: number
  maxAttempts: number
  /** How often an idle worker looks for work it was not told about (a missed wake-up). Default 1 s. */
  pollMs?: number
  /**
   * Whether a job whose lease owner id names a dead process on this host is re-queued at
   * once (default: on SQLite, whose file is one host's). Off on shared records, where
   * containers can share a hostname: then only lease expiry is proof.
   */
  trustOwnerIds?: boolean
}

/**
 * The queue over the jobs table, as graphile-worker, River and Oban keep theirs: workers
 * claim with one guarded UPDATE (`FOR UPDATE SKIP LOCKED` on PostgreSQL). Idle workers wake
 * on `queued` state events — in this process at once, from others over the records' channel
 * — and otherwise look once per poll interval, so a missed wake-up costs at most that.
 */
export function createJobQueue(options: JobQueueOptions): JobQueue {
  const { store, events, clock, leaseMs, maxAttempts } = options
  const pollMs = options.pollMs ?? 1000
  const trustOwnerIds = options.trustOwnerIds ?? store.kind === 'sqlite'
  const wakeups = createWakeups()
  events.subscribeAll((event) => {
    if (event.type === 'state' && event.state === 'queued') wakeups.wake()
  })
  const queuedAgain = (jobId: string) => events.publish({ type: 'state', jobId, state: 'queued' })

  return {
    claim: (owner, filter) => store.jobs.claim({ owner, now: clock.now(), leaseMs, ...filter }),

    async waitForWork(signal, { maxWaitMs = pollMs, filter } = {}) {
      await wakeups.wait(signal, async () => {
        // A retried job may be due before the poll interval is over: wake for it too (for
        // a worker of one key, only its own: another key's due job is not its work).
        const next = await store.jobs.nextDueAt(filter?.apiKeyId)
        return next === undefined ? maxWaitMs : Math.min(maxWaitMs, next - clock.now())
      })
    },

    extend: (jobId, owner, progress) => store.jobs.extend(jobId, owner, clock.now() + leaseMs, progress),

    async retryLater(jobId, owner, delayMs) {
      const ok = await store.jobs.requeue(jobId, owner, clock.now() + delayMs, 0)
      if (ok) queuedAgain(jobId)
      return ok
    },

    async release(jobId, owner) {
      const ok = await store.jobs.requeue(jobId, owner, clock.now(), -1)
      if (ok) queuedAgain(jobId)
      return ok
    },

    async recover(self) {
      const now = clock.now()
      const report: RecoveryReport = { requeued: [], abandoned: [] }
      for (const lease of await store.jobs.leases()) {
        const expired = lease.expiresAt === null || lease.expiresAt < now
        if (!expired && !(trustOwnerIds && isOwnerDead(lease.owner ?? '', self))) continue
        if (lease.attempts >= maxAttempts) {
          if (await store.jobs.abandon(lease.id, lease.owner, now)) report.abandoned.push(lease.id)
        } else if (await store.jobs.requeue(lease.id, lease.owner, now, 0)) {
          report.requeued.push(lease.id)
          queuedAgain(lease.id)
        }
      }
      return report
    },

    depth: () => store.jobs.depth(),
    positionOf: (jobId) => store.jobs.positionOf(jobId),
  }
}
