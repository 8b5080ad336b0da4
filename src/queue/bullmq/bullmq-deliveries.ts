import type { Job as BullJob } from 'bullmq'
import type { Logger } from 'pino'
import type { Clock } from '../../domain/clock.js'
import { isTerminal } from '../../domain/job.js'
import type { DeliveryRow } from '../../store/delivery-repository.js'
import type { Store } from '../../store/store.js'
import type { DeliveryQueue } from '../../webhooks/delivery-queue.js'
import type { JobEvents } from '../job-events.js'
import { createWakeups } from '../wakeups.js'
import { openEntries } from './entries.js'

export interface BullmqDeliveryQueueOptions {
  store: Store
  clock: Clock
  logger: Logger
  events: JobEvents
  redisUrl: string
  prefix: string
  /** BullMQ queue name (default `webhooks`). */
  name?: string
  /** Whether this process sends webhooks (takes entries) or only adds them. */
  consume: boolean
  leaseMs: number
  /** Delay before a round's first attempt (the retry schedule's first entry). */
  firstDelayMs: number
  isDead(owner: string): boolean
  /** How often one process of the fleet looks for pending deliveries without an entry. */
  reconcileMs?: number
}

export interface BullmqDeliveryQueue extends DeliveryQueue {
  /** Adds entries for pending deliveries that have none; returns how many. */
  reconcile(): Promise<number>
  close(): Promise<void>
}

const PAGE = 1000

/**
 * Webhook deliveries on BullMQ (`REDIS_URL`), beside the jobs: one entry per pending
 * delivery, under the delivery's id, delayed until its next attempt is due. As with jobs,
 * the row stays the truth: a dispatcher that takes an entry claims the row with a guarded
 * UPDATE, drops entries of finished deliveries and puts off those leased elsewhere.
 *
 * Entries are added by the process that ended the job (its own `state` event: the trigger
 * made the rows in that same transaction), on redelivery, after a retryable attempt, and by
 * a reconciler for rows left without one (a crash, or a job that ended without an event).
 */
export async function createBullmqDeliveryQueue(options: BullmqDeliveryQueueOptions): Promise<BullmqDeliveryQueue> {
  const { store, clock, logger, leaseMs, firstDelayMs } = options
  const reconcileMs = options.reconcileMs ?? 30_000
  const entries = await openEntries({ redisUrl: options.redisUrl, prefix: options.prefix, name: options.name ?? 'webhooks', consume: options.consume, lockMs: leaseMs, logger })
  const { quiet } = entries
  const held = new Map<string, BullJob>()
  const wakeups = createWakeups()

  const dueInMs = (row: Pick<DeliveryRow, 'next_attempt_at' | 'round_attempts'>) =>
    Number(row.next_attempt_at ?? clock.now()) + (row.round_attempts === 0 ? firstDelayMs : 0) - clock.now()
  const addRows = (rows: Pick<DeliveryRow, 'id' | 'next_attempt_at' | 'round_attempts'>[]) => Promise.all(rows.map((row) => entries.add(row.id, 0, dueInMs(row))))
  /** Real-time timestamp for BullMQ from one of our clock's. */
  const bullTime = (at: number) => Date.now() + (at - clock.now())

  const unsubscribe = options.events.subscribeOwnStates((event) => {
    if (event.type !== 'state' || !isTerminal(event.state)) return
    store.deliveries
      .pending({ jobId: event.jobId, limit: 100 })
      .then(addRows)
      .then(() => wakeups.wake())
      .catch((error: unknown) => logger.warn({ err: error, jobId: event.jobId }, 'bullmq:webhook-enqueue-failed (the reconciler will add it)'))
  })

  /**
   * Ends an entry whose delivery is not pending; a redelivery may have made it pending again
   * meanwhile (its add was a duplicate of this entry), so look once more and add it back.
   */
  const letGo = async (entry: BullJob, owner: string) => {
    await quiet('complete', entry.id!, () => entry.moveToCompleted(null, owner, false))
    const row = await store.deliveries.get(entry.id!)
    if (row?.state === 'pending') await addRows([row])
  }

  const deliveries: BullmqDeliveryQueue = {
    async claim(owner) {
      for (;;) {
        const entry = await entries.next(owner)
        if (!entry?.id) return undefined
        const claimed = await store.deliveries.claimById(entry.id, owner, clock.now(), leaseMs, firstDelayMs)
        if (claimed.delivery) {
          held.set(entry.id, entry)
          return claimed.delivery
        }
        const stands = claimed.stands
        if (!stands || (stands.state !== 'pending' && stands.state !== 'delivering')) {
          await letGo(entry, owner)
        } else if (stands.state === 'pending') {
          await quiet('delay', entry.id, () => entry.moveToDelayed(Date.now() + dueInMs(stands), owner))
        } else {
          const until = Math.max(Number(stands.lease_expires_at ?? clock.now()), clock.now()) + 1000
          await quiet('put-off', entry.id, () => entry.moveToDelayed(bullTime(until), owner))
        }
      }
    },

    waitForWork: (signal, maxWaitMs) => wakeups.wait(signal, async () => Math.min(maxWaitMs, Math.max(20, (await entries.nextDueInMs()) ?? maxWaitMs))),

    forget(id) {
      held.delete(id)
    },

    wake: () => wakeups.wake(),

    async settled(id, owner, nextAttemptAt) {
      const entry = held.get(id)
      held.delete(id)
      if (!entry) return
      if (nextAttemptAt === undefined) await letGo(entry, owner)
      else {
        await quiet('retry', id, () => entry.moveToDelayed(bullTime(nextAttemptAt), owner))
        wakeups.wake()
      }
    },

    async release(id, owner) {
      await store.deliveries.release(id, owner)
      const entry = held.get(id)
      held.delete(id)
      if (entry) await quiet('release', id, () => entry.moveToWait(owner))
    },

    async recover() {
      const recovered = await store.deliveries.recover(clock.now(), options.isDead)
      for (const { id, owner } of recovered) await entries.readyAgain(id, owner, 0)
      if (recovered.length > 0) wakeups.wake()
      return recovered.map((r) => r.id)
    },

    async redelivered(delivery) {
      try {
        await addRows([delivery])
      } catch (error) {
        logger.warn({ err: error, deliveryId: delivery.id }, 'bullmq:webhook-enqueue-failed (the reconciler will add it)')
      }
      wakeups.wake()
    },

    async reconcile() {
      let added = 0
      let after: string | undefined
      for (;;) {
        const page = await store.deliveries.pending({ after, limit: PAGE })
        if (page.length === 0) break
        after = page.at(-1)!.id
        const lost = new Set(await entries.missing(page.map((row) => row.id)))
        const missing = page.filter((row) => lost.has(row.id))
        await addRows(missing)
        added += missing.length
        if (page.length < PAGE) break
      }
      if (added > 0) {
        logger.warn({ added }, 'bullmq:reconciled (pending webhook deliveries had no BullMQ job)')
        wakeups.wake()
      }
      return added
    },

    async close() {
      unsubscribe()
      await entries.close()
    },
  }

  // Each worker process at start, then one process of the fleet every reconcileMs.
  if (options.consume) await entries.reconcileEvery(reconcileMs, () => deliveries.reconcile())
  return deliveries
}
