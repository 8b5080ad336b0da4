import os from 'node:os'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createBullmqQueue, type BullmqJobQueue } from '../../src/queue/bullmq/bullmq-queue.js'
import type { JobQueue } from '../../src/queue/job-queue.js'
import { createRecordsQueue } from '../../src/queue/records/records-queue.js'
import { isOwnerDead, newOwnerId } from '../../src/queue/owner.js'
import type { Store } from '../../src/store/store.js'
import { testClock } from '../helpers/server.js'
import { dropRedisPrefix, probePostgres, probeRedis, REDIS_URL, redisPrefix } from '../helpers/services.js'
import { openTestStore, queuedJob } from '../helpers/store.js'

let t: Awaited<ReturnType<typeof openTestStore>>
let store: Store
const clock = testClock()
const LEASE = 10_000

type QueueKind = 'sqlite' | 'postgres' | 'bullmq'
const postgres = await probePostgres()
const redis = postgres.ok ? await probeRedis() : postgres
const KINDS: QueueKind[] = ['sqlite', ...(postgres.ok ? (['postgres'] as const) : []), ...(redis.ok ? (['bullmq'] as const) : [])]

let kind: QueueKind
let prefix = ''
// BullMQ queues opened by a test, closed after it; `producer` adds entries as an API process would.
let opened: BullmqJobQueue[] = []
let producer: BullmqJobQueue | undefined

let counter = 0
async function addJob(createdAt = clock.now()): Promise<string> {
  const id = `job-${String(++counter).padStart(4, '0')}`
  await store.jobs.insert(queuedJob(id, { createdAt: new Date(createdAt) }))
  await producer?.enqueued(id)
  return id
}

const bullmq = async (options: { consume: boolean; maxAttempts?: number; trustOwnerIds?: boolean }) => {
  const records = createRecordsQueue({ db: store.db, dialect: store.kind, clock, leaseMs: LEASE, maxAttempts: options.maxAttempts ?? 3, trustOwnerIds: options.trustOwnerIds })
  const q = await createBullmqQueue({ records, db: store.db, clock, logger: pino({ level: 'silent' }), redisUrl: REDIS_URL, prefix, leaseMs: LEASE, consume: options.consume })
  opened.push(q)
  return q
}

/** The queue under test: the records queue, or BullMQ over the records (a worker's). */
const queue = async (maxAttempts = 3, trustOwnerIds?: boolean): Promise<JobQueue> =>
  kind === 'bullmq'
    ? bullmq({ consume: true, maxAttempts, trustOwnerIds })
    : createRecordsQueue({ db: store.db, dialect: store.kind, clock, leaseMs: LEASE, maxAttempts, trustOwnerIds })

/** Claims until the job comes, waiting for work between tries (a retry's delay is real time on BullMQ). */
async function claimWhenDue(q: JobQueue, owner: string) {
  for (;;) {
    const job = await q.claim(owner)
    if (job) return job
    await q.waitForWork(new AbortController().signal, 5_000)
  }
}

// The same behaviour from every queue: the records queue on SQLite and on PostgreSQL, and
// BullMQ dispatching over PostgreSQL records.
describe.each(KINDS)('the job queue: %s', (k) => {
  beforeEach(async () => {
    kind = k
    t = await openTestStore(k === 'sqlite' ? 'sqlite' : 'postgres')
    store = t.store
    if (k === 'bullmq') {
      prefix = redisPrefix()
      producer = await bullmq({ consume: false })
    }
  })
  afterEach(async () => {
    await Promise.all(opened.map((q) => q.close()))
    opened = []
    producer = undefined
    if (kind === 'bullmq') await dropRedisPrefix(prefix)
    await t.close()
  })

  it('hands each job to exactly one claimer, oldest first', async () => {
    const ids = [await addJob(), await addJob(), await addJob()]
    const q = await queue()
    const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => q.claim(`owner-${i}`)))
    const claimed = claims.filter((job) => job !== undefined)
    expect(claimed.map((job) => job.id).sort()).toEqual(ids)
    expect(claimed.every((job) => job.state === 'running' && job.attempts === 1)).toBe(true)
    expect(await q.claim('late')).toBeUndefined()
    expect(await q.depth()).toBe(0)
  })

  it('claims only the filtered key when asked', async () => {
    await addJob()
    expect(await (await queue()).claim('o', { apiKeyId: 'someone-else' })).toBeUndefined()
    expect(await (await queue()).claim('o', { apiKeyId: 'k' })).toBeDefined()
  })

  it('heartbeats only while the lease is ours and the job is running', async () => {
    const id = await addJob()
    const q = await queue()
    await q.claim('me')
    expect(await q.extend(id, 'me', 0.5)).toBe(true)
    expect((await store.jobs.get(id))?.progress).toBe(0.5)
    expect(await q.extend(id, 'someone-else', 0.6)).toBe(false)
    await store.jobs.cancel(id, clock.now())
    expect(await q.extend(id, 'me', 0.7)).toBe(false)
    expect(await store.jobs.complete(id, 'me', { result: { images: [], prompt: 'p', seed: 1 }, engine: 'x', now: clock.now() })).toBeUndefined()
    expect((await store.jobs.get(id))?.state).toBe('canceled')
  })

  it('re-queues a job whose lease expired, and abandons it after maxAttempts', async () => {
    const id = await addJob()
    const q = await queue(2)
    const other = `${os.hostname()}-elsewhere:1:abcd`
    await q.claim(other)
    expect(await q.recover(newOwnerId())).toEqual({ requeued: [], abandoned: [] })
    clock.advance(LEASE + 1)
    expect(await q.recover(newOwnerId())).toEqual({ requeued: [id], abandoned: [] })
    expect((await q.claim(other))?.attempts).toBe(2)
    clock.advance(LEASE + 1)
    expect(await q.recover(newOwnerId())).toEqual({ requeued: [], abandoned: [id] })
    expect(await store.jobs.get(id)).toMatchObject({ state: 'failed', error: { code: 'JOB_ABANDONED' } })
  })

  it('re-queues at once a job whose worker process on this host is gone', async () => {
    const id = await addJob()
    const q = await queue()
    const self = newOwnerId()
    // pid 2^22+1 is above Linux's pid_max default, so it cannot be a live process.
    const dead = `${os.hostname()}:4194305:dead`
    await q.claim(dead)
    expect(isOwnerDead(dead, self)).toBe(true)
    expect(await q.recover(self)).toEqual({ requeued: [id], abandoned: [] })
  })

  it('with trustOwnerIds off (shared records), waits for the lease to expire even for a dead-looking owner', async () => {
    const id = await addJob()
    const q = await queue(3, false)
    const dead = `${os.hostname()}:4194305:dead`
    await q.claim(dead)
    expect(await q.recover(newOwnerId())).toEqual({ requeued: [], abandoned: [] })
    clock.advance(LEASE + 1)
    expect(await q.recover(newOwnerId())).toEqual({ requeued: [id], abandoned: [] })
  })

  it('treats an earlier incarnation with our pid as dead, and ourselves and live pids as alive', () => {
    const self = newOwnerId()
    const [host, pid] = self.split(':')
    expect(isOwnerDead(`${host}:${pid}:00000000`, self)).toBe(true)
    expect(isOwnerDead(self, self)).toBe(false)
    expect(isOwnerDead(`${host}:1:zz`, self)).toBe(false)
    expect(isOwnerDead(`other-host:4194305:zz`, self)).toBe(false)
  })

  it('release puts a job back without counting the attempt; retryLater delays it', async () => {
    const id = await addJob()
    const q = await queue()
    await q.claim('me')
    expect(await q.release(id, 'me')).toBe(true)
    expect(await store.jobs.get(id)).toMatchObject({ state: 'queued', attempts: 0 })
    await q.claim('me')
    // Real time, not the test clock: BullMQ's delays run on Redis's side.
    // Timed from before the call: the due time is set inside it.
    const retriedAt = Date.now()
    expect(await q.retryLater(id, 'me', 1000)).toBe(true)
    expect(await q.claim('me')).toBeUndefined()
    expect((await claimWhenDue(q, 'me')).id).toBe(id)
    expect(Date.now() - retriedAt).toBeGreaterThanOrEqual(990)
  })

  it('wakes a waiting worker when a job is enqueued', async () => {
    const q = await queue()
    // Far longer than the test's timeout: only the wake-up can end this wait in time.
    const waiting = q.waitForWork(new AbortController().signal, 600_000)
    await q.enqueued('x')
    await waiting
    // A wake-up that came before the wait is not lost either.
    await q.enqueued('y')
    await q.waitForWork(new AbortController().signal, 600_000)
  })

  it('knows every queued job\'s position and the depth, through claims, retries, cancels and priorities', async () => {
    const q = await queue()
    // More than twice the counting cap (256), so both ways of counting are exercised.
    const ids = await Promise.all(Array.from({ length: 600 }, (_, i) => addJob(clock.now() + i)))
    // The oracle: every queued row, sorted in claim order.
    const expected = async () => {
      const rows = await store.db.selectFrom('jobs').select(['id', 'priority', 'run_after']).where('state', '=', 'queued').execute()
      rows.sort((a, b) => b.priority - a.priority || a.run_after - b.run_after || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      return rows.map((row) => row.id)
    }
    const check = async (sample: string[]) => {
      const order = await expected()
      expect(await q.depth()).toBe(order.length)
      for (const id of sample) expect(await q.positionOf(id), id).toBe(order.includes(id) ? order.indexOf(id) : undefined)
    }
    const sample = () => [ids[0]!, ids[1]!, ids[100]!, ids[300]!, ids[343]!, ids[344]!, ids[345]!, ids[500]!, ids[599]!]
    await check(sample())
    expect(await q.positionOf(ids[0]!)).toBe(0)
    expect(await q.positionOf(ids[599]!)).toBe(599)

    const first = await q.claim('me')
    await check([first!.id, ...sample()])
    await q.retryLater(first!.id, 'me', 60_000)
    await store.db.updateTable('jobs').set({ state: 'canceled' }).where('id', '=', ids[10]!).execute()
    await store.db.updateTable('jobs').set({ priority: 5 }).where('id', 'in', [ids[400]!, ids[450]!]).execute()
    await store.db.updateTable('jobs').set({ priority: -1 }).where('id', '=', ids[5]!).execute()
    await check([ids[10]!, ids[5]!, ids[400]!, ids[450]!, ...sample()])
    expect(await q.positionOf(ids[400]!)).toBe(0)
    expect(await q.positionOf('no-such-job')).toBeUndefined()

    await store.db.deleteFrom('jobs').where('id', '=', ids[20]!).execute()
    await check(sample())
  })
})

// What BullMQ adds over the records: entries by job id, a reconciler, priorities, and
// entries that must never run a job twice.
describe.runIf(KINDS.includes('bullmq'))('BullMQ over the records', () => {
  let raw: Queue
  let rawConnection: Redis
  beforeEach(async () => {
    kind = 'bullmq'
    t = await openTestStore('postgres')
    store = t.store
    prefix = redisPrefix()
    producer = await bullmq({ consume: false })
    rawConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null })
    raw = new Queue('jobs', { connection: rawConnection, prefix: prefix.replace(/:$/, '') })
  })
  afterEach(async () => {
    await raw.close()
    rawConnection.disconnect()
    await Promise.all(opened.map((q) => q.close()))
    opened = []
    producer = undefined
    await dropRedisPrefix(prefix)
    await t.close()
  })

  const entries = async () => {
    const counts = await raw.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'completed', 'failed')
    return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0))
  }

  it('keys entries by job id, so enqueuing twice leaves one entry', async () => {
    const id = await addJob()
    await producer!.enqueued(id)
    await producer!.enqueued(id)
    expect(await entries()).toEqual({ prioritized: 1 })
    expect((await raw.getJob(id))?.id).toBe(id)
  })

  it('reconciles: a queued record without an entry (a crash after commit) gets one', async () => {
    const lost = `job-lost-${++counter}`
    await store.jobs.insert(queuedJob(lost, { createdAt: new Date(clock.now()) }))
    const worker = await bullmq({ consume: true })
    // The worker reconciled when it started: the lost job is claimable.
    expect((await worker.claim('me'))?.id).toBe(lost)
    const another = `job-lost-${++counter}`
    await store.jobs.insert(queuedJob(another, { createdAt: new Date(clock.now()) }))
    expect(await worker.reconcile()).toBe(1)
    expect(await worker.reconcile()).toBe(0)
    expect((await worker.claim('me'))?.id).toBe(another)
  })

  it('drops the entry of a job canceled while queued, and claims the next', async () => {
    const canceled = await addJob()
    const next = await addJob()
    await store.jobs.cancel(canceled, clock.now())
    const worker = await bullmq({ consume: true })
    const job = await worker.claim('me')
    expect(job?.id).toBe(next)
    expect(await entries()).toEqual({ active: 1 })
    await store.jobs.complete(next, 'me', { result: { images: [], prompt: 'p', seed: 1 }, engine: 'x', now: clock.now() })
    await worker.done!(next, 'me')
    expect(await entries()).toEqual({})
  })

  it('never runs a job twice: an entry back in wait while its record is leased is put off', async () => {
    const id = await addJob()
    const a = await bullmq({ consume: true })
    const b = await bullmq({ consume: true })
    const job = await a.claim('owner-a')
    expect(job?.id).toBe(id)
    // What BullMQ's stalled check does when a lock lapses: the entry goes back to wait.
    await (await raw.getJob(id))!.moveToWait('owner-a')
    expect(await b.claim('owner-b')).toBeUndefined()
    expect(await store.jobs.get(id)).toMatchObject({ state: 'running', attempts: 1 })
    expect(await entries()).toEqual({ delayed: 1 })
    // The lease runs out and recovery makes the job ready at once, for one more attempt.
    clock.advance(LEASE + 1)
    expect(await b.recover(newOwnerId())).toEqual({ requeued: [id], abandoned: [] })
    expect(await b.claim('owner-b')).toMatchObject({ id, attempts: 2 })
    expect(await a.extend(id, 'owner-a', 0.5)).toBe(false)
  })

  it("moves a dead worker's entry back with its own token when the lease is recovered", async () => {
    const id = await addJob()
    const dead = await bullmq({ consume: true })
    await dead.claim('dead-owner')
    expect(await entries()).toEqual({ active: 1 })
    clock.advance(LEASE + 1)
    const alive = await bullmq({ consume: true })
    expect((await alive.recover(newOwnerId())).requeued).toEqual([id])
    expect(await entries()).toEqual({ prioritized: 1 })
    expect(await alive.claim('alive')).toMatchObject({ id, attempts: 2 })
  })

  it('brings a dead worker\'s job back at once also when its lock has expired with the lease', async () => {
    const id = await addJob()
    const dead = await bullmq({ consume: true })
    await dead.claim('dead-owner')
    // Lock and lease expire together in production; the test clock moves only the lease,
    // so expire the lock by hand.
    await rawConnection.del(`${raw.toKey(id)}:lock`)
    clock.advance(LEASE + 1)
    const alive = await bullmq({ consume: true })
    expect((await alive.recover(newOwnerId())).requeued).toEqual([id])
    expect(await entries()).toEqual({ prioritized: 1 })
    expect(await alive.claim('alive')).toMatchObject({ id, attempts: 2 })
  })

  it('an idle worker sleeps until a retried entry is due, however old the entry is', async () => {
    const id = `job-old-${++counter}`
    await store.jobs.insert(queuedJob(id, { createdAt: new Date(clock.now()) }))
    // An entry made two minutes ago (BullMQ's own timestamp), then retried in a minute.
    await raw.add('jobs', {}, { jobId: id, priority: 1 << 20, timestamp: Date.now() - 120_000 })
    const worker = await bullmq({ consume: true })
    await worker.claim('me')
    await worker.retryLater(id, 'me', 60_000)
    const signal = new AbortController().signal
    await worker.waitForWork(signal, 600_000) // the retry's own wake-up
    const woke = await Promise.race([worker.waitForWork(signal, 600_000).then(() => 'woke'), new Promise((resolve) => setTimeout(resolve, 300, 'slept'))])
    expect(woke).toBe('slept')
  })

  it('runs higher priorities first, first in first out within one', async () => {
    const worker = await bullmq({ consume: true })
    const ids: string[] = []
    for (const priority of [0, 0, 5, -1, 5]) {
      const id = `job-p-${++counter}`
      await store.jobs.insert(queuedJob(id, { createdAt: new Date(clock.now()) }))
      await store.db.updateTable('jobs').set({ priority }).where('id', '=', id).execute()
      await producer!.enqueued(id, priority)
      ids.push(id)
    }
    const order: string[] = []
    for (let i = 0; i < ids.length; i++) order.push((await worker.claim('me'))!.id)
    expect(order).toEqual([ids[2], ids[4], ids[0], ids[1], ids[3]])
  })

  it("releases keep the entry; retries delay it; done lets a finished job's entry go", async () => {
    const id = await addJob()
    const worker = await bullmq({ consume: true })
    await worker.claim('me')
    expect(await worker.release(id, 'me')).toBe(true)
    expect(await entries()).toEqual({ prioritized: 1 })
    await worker.claim('me')
    expect(await worker.retryLater(id, 'me', 60_000)).toBe(true)
    expect(await entries()).toEqual({ delayed: 1 })
    expect(await worker.claim('me')).toBeUndefined()
    await (await raw.getJob(id))!.promote()
    // Promoted early, but the record says not yet: it goes back to wait out the delay.
    expect(await worker.claim('me')).toBeUndefined()
    expect(await entries()).toEqual({ delayed: 1 })
  })
})
