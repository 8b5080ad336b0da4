import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createBullmqDeliveryQueue, type BullmqDeliveryQueue } from '../../src/queue/bullmq/bullmq-deliveries.js'
import { createLocalJobEvents, type JobEvents } from '../../src/queue/job-events.js'
import type { DeliveryRow } from '../../src/store/delivery-repository.js'
import { testClock } from '../helpers/server.js'
import { dropRedisPrefix, probePostgres, probeRedis, REDIS_URL, redisPrefix } from '../helpers/services.js'
import { openTestStore, queuedJob } from '../helpers/store.js'

const postgres = await probePostgres()
const redis = postgres.ok ? await probeRedis() : postgres
const clock = testClock()
const LEASE = 40_000

// Webhook deliveries on BullMQ: entries for pending delivery rows, the row the truth.
describe.runIf(redis.ok)('webhook deliveries on BullMQ', () => {
  let t: Awaited<ReturnType<typeof openTestStore>>
  let prefix: string
  let events: JobEvents
  let opened: BullmqDeliveryQueue[]
  let connection: Redis
  let raw: Queue
  let counter = 0

  beforeEach(async () => {
    t = await openTestStore('postgres')
    prefix = redisPrefix()
    events = createLocalJobEvents()
    opened = []
    connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null })
    raw = new Queue('webhooks', { connection, prefix: prefix.replace(/:$/, '') })
  })
  afterEach(async () => {
    await raw.close()
    connection.disconnect()
    await Promise.all(opened.map((q) => q.close()))
    await dropRedisPrefix(prefix)
    await t.close()
  })

  const open = async (consume = true) => {
    const q = await createBullmqDeliveryQueue({ store: t.store, clock, logger: pino({ level: 'silent' }), events, redisUrl: REDIS_URL, prefix, consume, leaseMs: LEASE, firstDelayMs: 0, isDead: () => false })
    opened.push(q)
    return q
  }
  const entries = async () => {
    const counts = await raw.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'completed', 'failed')
    return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0))
  }
  /** A job with a webhook, ended (canceled): the trigger makes its delivery row. */
  const endedJob = async () => {
    const id = `job-w-${++counter}`
    const job = queuedJob(id, { createdAt: new Date(clock.now()) })
    job.request.webhook = { url: 'https://hooks.example.com/x' }
    await t.store.jobs.insert(job)
    await t.store.jobs.cancel(id, clock.now())
    return id
  }
  const settle = (delivery: DeliveryRow, owner: string, outcome: 'delivered' | 'retry', nextAttemptAt?: number) =>
    t.store.transaction((tx) =>
      tx.deliveries.settle(delivery, owner, { startedAt: clock.now(), latencyMs: 1, status: outcome === 'delivered' ? 200 : 503, error: null, outcome, nextAttemptAt, now: clock.now() }),
    )
  const claimWhenDue = async (q: BullmqDeliveryQueue, owner: string) => {
    for (;;) {
      const delivery = await q.claim(owner)
      if (delivery) return delivery
      await q.waitForWork(new AbortController().signal, 5_000)
    }
  }

  it('adds the deliveries of a job this process ended; one claimer gets each; a delivered one lets go', async () => {
    // An API process (adds, takes nothing) beside two that send webhooks.
    await open(false)
    const worker = await open(true)
    const other = await open(true)
    const jobId = await endedJob()
    events.publish({ type: 'state', jobId, state: 'canceled' })
    const delivery = await claimWhenDue(worker, 'a')
    expect(delivery).toMatchObject({ job_id: jobId, state: 'delivering', lease_owner: 'a' })
    expect(await other.claim('b')).toBeUndefined()
    expect(await settle(delivery, 'a', 'delivered')).toBe(true)
    await worker.settled(delivery.id, 'a', undefined)
    expect(await entries()).toEqual({})
  })

  it('keeps a redelivery that came while the delivered entry was being let go', async () => {
    const worker = await open(true)
    const jobId = await endedJob()
    events.publish({ type: 'state', jobId, state: 'canceled' })
    const delivery = await claimWhenDue(worker, 'a')
    expect(await settle(delivery, 'a', 'delivered')).toBe(true)
    // Redelivered between the attempt's commit and the entry's end: its add is a duplicate.
    const again = await t.store.deliveries.redeliver(delivery.id, clock.now())
    await worker.redelivered(again!)
    await worker.settled(delivery.id, 'a', undefined)
    // Not left to the reconciler (30 s): the entry is there again at once.
    expect(await entries()).toEqual({ prioritized: 1 })
    expect((await claimWhenDue(worker, 'a')).id).toBe(delivery.id)
  })

  it('delays the entry of a retried delivery until it is due', async () => {
    const worker = await open(true)
    const jobId = await endedJob()
    events.publish({ type: 'state', jobId, state: 'canceled' })
    const delivery = await claimWhenDue(worker, 'a')
    // Timed from before the due time is set: the settle and Redis round trips count in it.
    const startedWaiting = Date.now()
    const at = clock.now() + 1000
    expect(await settle(delivery, 'a', 'retry', at)).toBe(true)
    await worker.settled(delivery.id, 'a', at)
    expect(await entries()).toEqual({ delayed: 1 })
    const again = await claimWhenDue(worker, 'a')
    expect(again.id).toBe(delivery.id)
    expect(Date.now() - startedWaiting).toBeGreaterThanOrEqual(990)
  })

  it('reconciles pending deliveries that have no entry (their job ended without an event here)', async () => {
    const worker = await open(true)
    await endedJob()
    await endedJob()
    expect(await worker.reconcile()).toBe(2)
    expect(await worker.reconcile()).toBe(0)
    const first = await claimWhenDue(worker, 'a')
    const second = await claimWhenDue(worker, 'a')
    expect(new Set([first.job_id, second.job_id]).size).toBe(2)
  })

  it('drops the entry of a delivery that is no longer pending, and puts off one leased elsewhere', async () => {
    const worker = await open(true)
    const jobId = await endedJob()
    events.publish({ type: 'state', jobId, state: 'canceled' })
    const delivery = await claimWhenDue(worker, 'a')
    // As BullMQ's stalled check would: the entry back in wait while the row is leased.
    await (await raw.getJob(delivery.id))!.moveToWait('a')
    expect(await worker.claim('b')).toBeUndefined()
    expect(await entries()).toEqual({ delayed: 1 })
    expect(await settle(delivery, 'a', 'delivered')).toBe(true)
    await (await raw.getJob(delivery.id))!.promote()
    expect(await worker.claim('b')).toBeUndefined()
    expect(await entries()).toEqual({})
  })
})
