import type { Clock } from '../domain/clock.js'
import type { Job } from '../domain/job.js'
import type { Store } from '../store/store.js'
import type { JobEvents } from './job-events.js'
import { isOwnerDead, newLeaseToken } from './owner.js'
import { createWakeups } from './wakeups.js'

export interface RecoveryReport {
  /** Jobs put back in the queue because their worker died or their lease expired. */
  requeued: string[]
  /** Jobs failed with JOB_ABANDONED: their worker stopped during every attempt. */
  abandoned: string[]
}

export interface ClaimFilter {
  apiKeyId?: string
  /** Never these jobs: the claimer runs them already (another process may have re-queued one). */
  exclude?: readonly string[]
}

/** A claimed job and its lease token: every write of this attempt names the token. */
export interface Claim {
  job: Job
  /** `<owner id>/<claim token>`, new for each claim: it names this attempt, not the process. */
  lease: string
  /** The time the lease was counted from (read before the claim's statement, which may have waited). */
  leasedAt: number
}

/**
 * Hands queued jobs to workers. The jobs table is the queue: a queued row is a queue entry,
 * so a job and its entry are written by one insert and change together in one guarded
 * statement. A claimed job is `running` under the claim's lease until the claimer
 * completes, fails, retries or releases it, or the lease runs out. A lease is one claim's:
 * once a job is taken back and claimed again, the earlier claim's token writes nothing.
 */
export interface JobQueue {
  /**
   * Takes the next ready job (of one key only, with `apiKeyId`; none of `exclude`) under a new
   * lease of `owner` (the process), or `undefined` when none is ready.
   */
  claim(owner: string, filter?: ClaimFilter): Promise<Claim | undefined>
  /**
   * Resolves when work may be ready (for `filter`'s claims), after `maxWaitMs` (default: the
   * poll interval), or when `signal` aborts.
   */
  waitForWork(signal: AbortSignal, options?: { maxWaitMs?: number; filter?: ClaimFilter }): Promise<void>
  /** Heartbeat: extends the lease and saves progress. False: the lease is gone (canceled or taken). */
  extend(jobId: string, lease: string, progress: number): Promise<boolean>
  /** Back to the queue to run again after `delayMs` (a retryable failure). */
  retryLater(jobId: string, lease: string, delayMs: number): Promise<boolean>
  /** Back to the queue in the place it had, not counting the attempt (graceful shutdown). */
  release(jobId: string, lease: string): Promise<boolean>
  /**
   * Re-queues, in the place they had, jobs whose worker is dead or whose lease has expired;
   * never one that `running` has (the caller, process `self`, runs it: alive even if a pause
   * outlasted its lease, its next heartbeat extends the lease if nobody took it meanwhile).
   */
  recover(self: string, running?: Pick<ReadonlySet<string>, 'has'>): Promise<RecoveryReport>
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

const NONE: ReadonlySet<string> = new Set()

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
    async claim(owner, filter) {
      const lease = newLeaseToken(owner)
      const leasedAt = clock.now()
      const job = await store.jobs.claim({ owner: lease, now: leasedAt, leaseMs, ...filter })
      return job && { job, lease, leasedAt }
    },

    async waitForWork(signal, { maxWaitMs = pollMs, filter } = {}) {
      await wakeups.wait(signal, async () => {
        // A retried job may be due before the poll interval is over: wake for it too (for
        // a worker of one key, only its own: another key's due job is not its work; nor is a
        // job the worker runs already).
        const next = await store.jobs.nextDueAt(filter)
        return next === undefined ? maxWaitMs : Math.min(maxWaitMs, next - clock.now())
      })
    },

    extend: (jobId, lease, progress) => store.jobs.extend(jobId, lease, clock.now() + leaseMs, progress),

    async retryLater(jobId, lease, delayMs) {
      const ok = await store.jobs.requeue(jobId, lease, clock.now() + delayMs, 0)
      if (ok) queuedAgain(jobId)
      return ok
    },

    async release(jobId, lease) {
      const ok = await store.jobs.requeue(jobId, lease, null, -1)
      if (ok) queuedAgain(jobId)
      return ok
    },

    async recover(self, running = NONE) {
      const now = clock.now()
      const report: RecoveryReport = { requeued: [], abandoned: [] }
      for (const lease of await store.jobs.leases()) {
        if (running.has(lease.id)) continue
        const expired = lease.expiresAt === null || lease.expiresAt < now
        if (!expired && !(trustOwnerIds && isOwnerDead(lease.owner ?? '', self))) continue
        // Guarded by the expiry too when that is the reason: a heartbeat since this read wins.
        const stale = expired ? now : undefined
        // A job's due time is unchanged while it runs: it goes back to the place it had, not the end.
        if (lease.attempts >= maxAttempts) {
          if (await store.jobs.abandon(lease.id, lease.owner, now, stale)) report.abandoned.push(lease.id)
        } else if (await store.jobs.requeue(lease.id, lease.owner, null, 0, stale)) {
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
