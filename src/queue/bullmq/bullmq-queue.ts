import type { Job as BullJob } from 'bullmq'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Clock } from '../../domain/clock.js'
import { isTerminal } from '../../domain/job.js'
import type { Database } from '../../store/schema.js'
import type { JobQueue } from '../job-queue.js'
import type { RecordsQueue } from '../records/records-queue.js'
import { createWakeups } from '../wakeups.js'
import { openEntries } from './entries.js'

export interface BullmqQueueOptions {
  /** The jobs table stays the source of truth: every claim is still its guarded UPDATE. */
  records: RecordsQueue
  db: Kysely<Database>
  clock: Clock
  logger: Logger
  redisUrl: string
  /** Key prefix (`FLUXHOST_REDIS_PREFIX`); BullMQ's keys are `<prefix><name>:…`. */
  prefix: string
  /** BullMQ queue name (default `jobs`). */
  name?: string
  leaseMs: number
  /** Whether this process takes jobs (a worker) or only adds them (an API process). */
  consume: boolean
  /** How often one process of the fleet looks for queued records without a BullMQ job. */
  reconcileMs?: number
  /** Longest idle wait before looking at BullMQ again (other processes' wake-ups come over pub/sub). */
  pollMs?: number
}

export interface BullmqJobQueue extends JobQueue {
  /**
   * Adds a BullMQ job for every queued record that has none (a crash between the record's
   * commit and its enqueue). Returns how many it added.
   */
  reconcile(): Promise<number>
  /** Counts of BullMQ's own lists (tests, `doctor`). */
  counts(): Promise<Record<string, number>>
  close(): Promise<void>
}

const RECONCILE_PAGE = 1000

/**
 * BullMQ as the queue (`REDIS_URL`): it decides who runs what and when — ordering,
 * priorities, delays, stalled-job detection — while the job's record stays the truth.
 *
 * - A BullMQ job's id is the record's id, so enqueuing twice is harmless.
 * - A worker takes the next BullMQ job, then claims the record with the same guarded
 *   UPDATE as the records queue; an entry whose record is finished is dropped, and one
 *   whose record is still leased elsewhere is put off until that lease runs out. So a
 *   stalled or duplicate entry never runs a job twice.
 * - The BullMQ lock's token is the lease owner id, and both expire together: the heartbeat
 *   extends the record's lease and the lock. When a lease is recovered from a dead
 *   worker, its lock is released with the dead worker's token, so the job runs again at
 *   once instead of after BullMQ's own stalled check (which stays on, as a second net).
 * - A reconciler adds BullMQ jobs for queued records that have none.
 * - BullMQ keeps no finished jobs (removeOnComplete/Fail): the records keep the history.
 */
export async function createBullmqQueue(options: BullmqQueueOptions): Promise<BullmqJobQueue> {
  const { records, db, clock, logger, leaseMs } = options
  const pollMs = options.pollMs ?? 1000
  const reconcileMs = options.reconcileMs ?? 30_000
  const entries = await openEntries({ redisUrl: options.redisUrl, prefix: options.prefix, name: options.name ?? 'jobs', consume: options.consume, lockMs: leaseMs, logger })
  const { add, quiet, queue } = entries

  // The BullMQ jobs this process holds, by id: their lock token is the owner id.
  const held = new Map<string, BullJob>()
  const wakeups = createWakeups()

  const bullQueue: BullmqJobQueue = {
    async enqueued(jobId, priority = 0) {
      try {
        await add(jobId, priority, 0)
      } catch (error) {
        // The record is committed: the create succeeded. The reconciler adds the entry.
        logger.warn({ err: error, jobId }, 'bullmq:enqueue-failed (the reconciler will add it)')
      }
      wakeups.wake()
    },

    wake: () => wakeups.wake(),

    async claim(owner, filter) {
      // BullMQ cannot pick by key: a filtered claim (the CLI's own jobs) takes the record
      // directly, and its entry is dropped when a worker next meets it.
      if (filter) return records.claim(owner, filter)
      for (;;) {
        const entry = await entries.next(owner)
        if (!entry?.id) return undefined
        const claimed = await records.claimById(entry.id, owner)
        if (claimed.job) {
          held.set(entry.id, entry)
          return claimed.job
        }
        const stands = claimed.stands
        const now = clock.now()
        if (!stands || isTerminal(stands.state)) {
          // Finished (or canceled while queued): nothing left to run.
          await quiet('drop', entry.id, () => entry.moveToCompleted(null, owner, false))
        } else if (stands.state === 'queued') {
          // Not due yet (a retry): come back when it is.
          await quiet('delay', entry.id, () => entry.moveToDelayed(Date.now() + (stands.runAfter - now), owner))
        } else {
          // Leased elsewhere (a duplicate, or a stalled entry whose worker still runs it):
          // look again once that lease could have expired; recovery makes it ready sooner.
          const until = Math.max(stands.leaseExpiresAt ?? now, now) + Math.min(1000, leaseMs)
          await quiet('put-off', entry.id, () => entry.moveToDelayed(Date.now() + (until - now), owner))
        }
      }
    },

    async waitForWork(signal, maxWaitMs = pollMs) {
      await wakeups.wait(signal, async () => {
        // A delayed entry (a retry) may be due before the poll interval is over; one overdue
        // is promoted by the next claim (a short pause, never a spin).
        return Math.min(maxWaitMs, Math.max(20, (await entries.nextDueInMs()) ?? maxWaitMs))
      })
    },

    async extend(jobId, owner, progress) {
      const ok = await records.extend(jobId, owner, progress)
      const entry = held.get(jobId)
      if (ok && entry) await quiet('extend', jobId, () => entry.extendLock(owner, leaseMs))
      return ok
    },

    async retryLater(jobId, owner, delayMs) {
      const ok = await records.retryLater(jobId, owner, delayMs)
      const entry = held.get(jobId)
      held.delete(jobId)
      if (ok && entry) await quiet('retry', jobId, () => entry.moveToDelayed(Date.now() + delayMs, owner))
      if (ok) wakeups.wake()
      return ok
    },

    async release(jobId, owner) {
      const ok = await records.release(jobId, owner)
      const entry = held.get(jobId)
      held.delete(jobId)
      if (ok && entry) await quiet('release', jobId, () => entry.moveToWait(owner))
      if (ok) wakeups.wake()
      return ok
    },

    async done(jobId, owner) {
      const entry = held.get(jobId)
      if (!entry) return
      const row = await db.selectFrom('jobs').select(['state', 'run_after', 'lease_owner']).where('id', '=', jobId).executeTakeFirst()
      // Running under our lease again (this process took the job back after losing it): that
      // run holds the entry now.
      if (row?.state === 'running' && row.lease_owner === owner) return
      held.delete(jobId)
      if (!row || isTerminal(row.state)) await quiet('complete', jobId, () => entry.moveToCompleted(null, owner, false))
      else if (row.state === 'queued') await quiet('requeue', jobId, () => entry.moveToDelayed(Date.now() + (Number(row.run_after) - clock.now()), owner))
      // Running under another lease: that worker holds the record; our lock is already gone.
    },

    async recover(self) {
      const report = await records.recoverWithOwners(self)
      for (const jobId of report.requeued) {
        const row = await db.selectFrom('jobs').select('priority').where('id', '=', jobId).executeTakeFirst()
        await entries.readyAgain(jobId, report.owners.get(jobId) ?? null, row?.priority ?? 0)
      }
      for (const jobId of report.abandoned) {
        const formerOwner = report.owners.get(jobId)
        const entry = await queue.getJob(jobId)
        if (entry && formerOwner) await quiet('drop', jobId, () => entry.moveToCompleted(null, formerOwner, false))
      }
      if (report.requeued.length > 0) wakeups.wake()
      return { requeued: report.requeued, abandoned: report.abandoned }
    },

    async reconcile() {
      let added = 0
      let after = ''
      const now = clock.now()
      for (;;) {
        const page = await db
          .selectFrom('jobs')
          .select(['id', 'priority', 'run_after'])
          .where('state', '=', 'queued')
          .where('id', '>', after)
          .orderBy('id')
          .limit(RECONCILE_PAGE)
          .execute()
        if (page.length === 0) break
        after = page.at(-1)!.id
        const lost = new Set(await entries.missing(page.map((row) => row.id)))
        const missing = page.filter((row) => lost.has(row.id))
        await Promise.all(missing.map((row) => add(row.id, row.priority, Number(row.run_after) - now)))
        added += missing.length
        if (page.length < RECONCILE_PAGE) break
      }
      if (added > 0) {
        logger.warn({ added }, 'bullmq:reconciled (queued records had no BullMQ job)')
        wakeups.wake()
      }
      return added
    },

    async counts() {
      return queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'completed', 'failed')
    },

    depth: () => records.depth(),
    positionOf: (jobId) => records.positionOf(jobId),

    async close() {
      await entries.close()
    },
  }

  // Each worker process at start, then one process of the fleet every reconcileMs.
  if (options.consume) await entries.reconcileEvery(reconcileMs, () => bullQueue.reconcile())
  return bullQueue
}
