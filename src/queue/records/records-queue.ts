import { sql, type ExpressionBuilder, type Kysely } from 'kysely'
import type { Clock } from '../../domain/clock.js'
import { ERRORS } from '../../domain/errors.js'
import { compileOnce } from '../../store/compiled.js'
import { rowToJob } from '../../store/job-row.js'
import type { Database } from '../../store/schema.js'
import type { Job } from '../../domain/job.js'
import type { JobQueue, RecoveryReport } from '../job-queue.js'
import { isOwnerDead } from '../owner.js'
import { createWakeups } from '../wakeups.js'

export interface RecordsQueueOptions {
  db: Kysely<Database>
  /** Which database `db` is: the SQL of the claim and of queue positions differs a little. */
  dialect: 'sqlite' | 'postgres'
  clock: Clock
  leaseMs: number
  maxAttempts: number
  /** How often an idle worker looks for jobs that another process enqueued. */
  pollMs?: number
  /**
   * Whether a job whose lease owner id names a dead process on this host is re-queued at
   * once (default true: one SQLite file is one host's). Off on shared records, where
   * containers can share a hostname: then only lease expiry is proof.
   */
  trustOwnerIds?: boolean
}

/** Where a job stands when it could not be claimed by id. */
export interface Unclaimable {
  state: Job['state']
  runAfter: number
  leaseOwner: string | null
  leaseExpiresAt: number | null
}

/**
 * The records queue, plus what a dispatch layer over it (BullMQ) needs: claiming one given
 * job, and knowing whose leases a recovery took.
 */
export interface RecordsQueue extends JobQueue {
  /** Claims this job if it is queued and due; else says where it stands (undefined: no such job). */
  claimById(jobId: string, owner: string): Promise<{ job: Job } | { job?: undefined; stands: Unclaimable | undefined }>
  /** `recover`, and the lease owner each recovered job was taken from. */
  recoverWithOwners(self: string): Promise<RecoveryReport & { owners: Map<string, string | null> }>
}

/** Past this many jobs behind a job, its position is counted from the front instead. */
const CAP = 256

/**
 * The queue in the records: the jobs table itself, on SQLite (embedded) or PostgreSQL. A
 * queued row is a queue entry, so a job and its queue entry are written in the same insert
 * and can never be half-written.
 */
export function createRecordsQueue(options: RecordsQueueOptions): RecordsQueue {
  const { db, clock, leaseMs, maxAttempts, dialect } = options
  // `indexed by` keeps SQLite on the queue's partial index; PostgreSQL's planner finds it.
  const queueIndex = dialect === 'sqlite' ? sql` indexed by jobs_queue` : sql``
  const pollMs = options.pollMs ?? 1000
  const wakeups = createWakeups()
  const wakeAll = () => wakeups.wake()

  const leased = (owner: string, now: number) => (eb: ExpressionBuilder<Database, 'jobs'>) => ({
    state: 'running' as const,
    lease_owner: owner,
    lease_expires_at: now + leaseMs,
    attempts: eb('attempts', '+', 1),
    started_at: eb.fn.coalesce('started_at', eb.val(now)),
  })

  const requeue = (id: string, owner: string, runAfter: number, attemptDelta: number) =>
    db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'queued',
        run_after: runAfter,
        lease_owner: null,
        lease_expires_at: null,
        attempts: eb('attempts', '+', attemptDelta),
      }))
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('lease_owner', '=', owner)
      .executeTakeFirst()
      .then((r) => Number(r.numUpdatedRows) === 1)

  // Queue order is (priority desc, run_after, id). Counting the jobs ahead of a job costs a
  // step per job, so count the side that is short: its position is the depth (kept by
  // triggers, migration 0002) less the jobs behind it, and a new job has next to nothing
  // behind it. Depth and count come from one statement, so from one snapshot. Compiled
  // once: hot path.
  const positions = {
    fromBack: compileOnce<{ depth: number; behind: number }>(
      {
        compile: () =>
          sql<{ depth: number; behind: number }>`
            select
              (select depth from queue_stats where id = 1) as depth,
              (select count(*) from (select 1 from jobs j${queueIndex}
                  where j.state = 'queued' and j.priority < me.priority limit ${CAP}) lower_priority)
              + (select count(*) from (select 1 from jobs j${queueIndex}
                  where j.state = 'queued' and j.priority = me.priority
                    and (j.run_after, j.id) > (me.run_after, me.id) limit ${CAP}) later_in_line) as behind
            from jobs me
            where me.id = ${''} and me.state = 'queued'
          `.compile(db),
      },
      3,
    ),
    fromFront: compileOnce<{ ahead: number }>(
      {
        compile: () =>
          sql<{ ahead: number }>`
            select
              (select count(*) from jobs j${queueIndex} where j.state = 'queued' and j.priority > me.priority)
              + (select count(*) from jobs j${queueIndex}
                  where j.state = 'queued' and j.priority = me.priority and (j.run_after, j.id) < (me.run_after, me.id)) as ahead
            from jobs me
            where me.id = ${''} and me.state = 'queued'
          `.compile(db),
      },
      1,
    ),
  }

  const queue: RecordsQueue = {
    async enqueued() {
      wakeAll()
    },

    wake: wakeAll,

    async claim(owner, filter) {
      const now = clock.now()
      // One statement: pick and lease the head of the queue. Two claimers cannot both win:
      // the outer UPDATE re-checks `state = 'queued'` under the row's lock. On PostgreSQL,
      // `for update skip locked` makes concurrent claimers take different heads instead of
      // queueing on the same one (and one of them coming back empty).
      const row = await db
        .updateTable('jobs')
        .set(leased(owner, now))
        .where('id', '=', (eb) => {
          let head = eb
            .selectFrom('jobs')
            .select('id')
            .where('state', '=', 'queued')
            .where('run_after', '<=', now)
          if (filter?.apiKeyId !== undefined) head = head.where('api_key_id', '=', filter.apiKeyId)
          head = head.orderBy('priority', 'desc').orderBy('run_after').orderBy('id').limit(1)
          return dialect === 'postgres' ? head.forUpdate().skipLocked() : head
        })
        .where('state', '=', 'queued')
        .returningAll()
        .executeTakeFirst()
      return row ? rowToJob(row) : undefined
    },

    async waitForWork(signal, maxWaitMs = pollMs) {
      await wakeups.wait(signal, async () => {
        // A retried job may be due before the poll interval is over: wake for it too.
        const next = await db
          .selectFrom('jobs')
          .select((eb) => eb.fn.min('run_after').as('next'))
          .where('state', '=', 'queued')
          .executeTakeFirst()
        return next?.next == null ? maxWaitMs : Math.min(maxWaitMs, Number(next.next) - clock.now())
      })
    },

    async claimById(jobId, owner) {
      const now = clock.now()
      const row = await db
        .updateTable('jobs')
        .set(leased(owner, now))
        .where('id', '=', jobId)
        .where('state', '=', 'queued')
        .where('run_after', '<=', now)
        .returningAll()
        .executeTakeFirst()
      if (row) return { job: rowToJob(row) }
      const stands = await db
        .selectFrom('jobs')
        .select(['state', 'run_after', 'lease_owner', 'lease_expires_at'])
        .where('id', '=', jobId)
        .executeTakeFirst()
      return {
        stands: stands && {
          state: stands.state,
          runAfter: Number(stands.run_after),
          leaseOwner: stands.lease_owner,
          leaseExpiresAt: stands.lease_expires_at === null ? null : Number(stands.lease_expires_at),
        },
      }
    },

    async extend(jobId, owner, progress) {
      const result = await db
        .updateTable('jobs')
        .set({ lease_expires_at: clock.now() + leaseMs, progress })
        .where('id', '=', jobId)
        .where('state', '=', 'running')
        .where('lease_owner', '=', owner)
        .executeTakeFirst()
      return Number(result.numUpdatedRows) === 1
    },

    async retryLater(jobId, owner, delayMs) {
      const ok = await requeue(jobId, owner, clock.now() + delayMs, 0)
      if (ok) wakeAll()
      return ok
    },

    async release(jobId, owner) {
      const ok = await requeue(jobId, owner, clock.now(), -1)
      if (ok) wakeAll()
      return ok
    },

    async recover(self) {
      const { requeued, abandoned } = await queue.recoverWithOwners(self)
      return { requeued, abandoned }
    },

    async recoverWithOwners(self) {
      const now = clock.now()
      const running = await db
        .selectFrom('jobs')
        .select(['id', 'lease_owner', 'lease_expires_at', 'attempts'])
        .where('state', '=', 'running')
        .execute()
      const report: RecoveryReport & { owners: Map<string, string | null> } = { requeued: [], abandoned: [], owners: new Map() }
      for (const job of running) {
        const owner = job.lease_owner ?? ''
        const expired = job.lease_expires_at === null || Number(job.lease_expires_at) < now
        if (!expired && !(options.trustOwnerIds !== false && isOwnerDead(owner, self))) continue
        report.owners.set(job.id, job.lease_owner)
        if (job.attempts >= maxAttempts) {
          const failed = await db
            .updateTable('jobs')
            .set({
              state: 'failed',
              error_code: 'JOB_ABANDONED',
              error_message: ERRORS.JOB_ABANDONED.message,
              finished_at: now,
              lease_owner: null,
              lease_expires_at: null,
            })
            .where('id', '=', job.id)
            .where('state', '=', 'running')
            // (`is $1` is SQLite-only; PostgreSQL compares a parameter with `=` or `is null`.)
            .where((eb) => (job.lease_owner === null ? eb('lease_owner', 'is', null) : eb('lease_owner', '=', job.lease_owner)))
            .executeTakeFirst()
          if (Number(failed.numUpdatedRows) === 1) report.abandoned.push(job.id)
        } else if (await requeue(job.id, owner, now, 0)) {
          report.requeued.push(job.id)
        }
      }
      if (report.requeued.length > 0) wakeAll()
      return report
    },

    async positionOf(jobId) {
      const { rows } = await db.executeQuery(positions.fromBack([CAP, CAP, jobId]))
      const row = rows[0]
      if (!row) return undefined
      if (Number(row.behind) < CAP) return Number(row.depth) - 1 - Number(row.behind)
      // Deep in a long queue: count the jobs ahead (it costs as much as the position).
      const ahead = await db.executeQuery(positions.fromFront([jobId]))
      return ahead.rows[0] ? Number(ahead.rows[0].ahead) : undefined
    },

    async depth() {
      const row = await db.selectFrom('queue_stats').select('depth').where('id', '=', 1).executeTakeFirst()
      return Number(row?.depth ?? 0)
    },
  }
  return queue
}
