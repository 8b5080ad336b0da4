import os from 'node:os'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLocalJobEvents, type JobEvents } from '../../src/queue/job-events.js'
import { createJobQueue, type JobQueue } from '../../src/queue/job-queue.js'
import { isOwnerDead, newLeaseToken, newOwnerId } from '../../src/queue/owner.js'
import type { Store } from '../../src/store/store.js'
import { testClock } from '../helpers/server.js'
import { probePostgres } from '../helpers/services.js'
import { openTestStore, queuedJob, type StoreKind, type TestStore } from '../helpers/store.js'

let t: TestStore
let store: Store
let events: JobEvents
const clock = testClock()
const LEASE = 10_000

const postgres = await probePostgres()
const KINDS: StoreKind[] = ['sqlite', ...(postgres.ok ? (['postgres'] as const) : [])]

let counter = 0
async function addJob(createdAt = clock.now()): Promise<string> {
  const id = `job-${String(++counter).padStart(4, '0')}`
  await store.jobs.insert(queuedJob(id, { createdAt: new Date(createdAt) }))
  return id
}

/** The queue under test, over the test's store. */
const queue = async (maxAttempts = 3, trustOwnerIds?: boolean): Promise<JobQueue> =>
  createJobQueue({
    store,
    events,
    clock,
    leaseMs: LEASE,
    maxAttempts,
    ...(trustOwnerIds === undefined ? {} : { trustOwnerIds }),
  })

/** Claims until the job comes, waiting for work between tries (a retry's delay is real time). */
async function claimWhenDue(q: JobQueue, owner: string) {
  for (;;) {
    const claim = await q.claim(owner)
    if (claim) return claim.job
    await q.waitForWork(new AbortController().signal, { maxWaitMs: 5_000 })
  }
}

// The same behaviour from the jobs table on SQLite and on PostgreSQL.
describe.each(KINDS)('the job queue: %s', (k) => {
  beforeEach(async () => {
    t = await openTestStore(k)
    store = t.store
    events = createLocalJobEvents()
  })
  afterEach(async () => {
    await t.close()
  })

  it('hands each job to exactly one claimer, oldest first', async () => {
    const ids = [await addJob(), await addJob(), await addJob()]
    const q = await queue()
    const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => q.claim(`owner-${i}`)))
    const claimed = claims.flatMap((claim) => (claim ? [claim.job] : []))
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
    const { lease } = (await q.claim('me'))!
    expect(lease).toMatch(/^me\/[0-9a-f]+$/)
    expect(await q.extend(id, lease, 0.5)).toBe(true)
    expect((await store.jobs.get(id))?.progress).toBe(0.5)
    expect(await q.extend(id, 'someone-else', 0.6)).toBe(false)
    // The process's id is not the lease: only the claim's token is.
    expect(await q.extend(id, 'me', 0.6)).toBe(false)
    await store.jobs.cancel(id, clock.now())
    expect(await q.extend(id, lease, 0.7)).toBe(false)
    expect(
      await store.jobs.complete(id, lease, {
        result: { images: [], prompt: 'p', seed: 1 },
        engine: 'x',
        now: clock.now(),
      }),
    ).toBeUndefined()
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
    expect((await q.claim(other))?.job.attempts).toBe(2)
    clock.advance(LEASE + 1)
    expect(await q.recover(newOwnerId())).toEqual({ requeued: [], abandoned: [id] })
    expect(await store.jobs.get(id)).toMatchObject({ state: 'failed', error: { code: 'JOB_ABANDONED' } })
  })

  it(
    're-queues at once a job whose worker process on this host is gone ' + '(trustOwnerIds, the SQLite default)',
    async () => {
      const id = await addJob()
      const q = await queue(3, true)
      const self = newOwnerId()
      // pid 2^22+1 is above Linux's pid_max default, so it cannot be a live process.
      const dead = `${os.hostname()}:4194305:dead`
      await q.claim(dead)
      expect(isOwnerDead(dead, self)).toBe(true)
      expect(await q.recover(self)).toEqual({ requeued: [id], abandoned: [] })
    },
  )

  it(
    'with trustOwnerIds off (shared records), ' + 'waits for the lease to expire even for a dead-looking owner',
    async () => {
      const id = await addJob()
      const q = await queue(3, false)
      const dead = `${os.hostname()}:4194305:dead`
      await q.claim(dead)
      expect(await q.recover(newOwnerId())).toEqual({ requeued: [], abandoned: [] })
      clock.advance(LEASE + 1)
      expect(await q.recover(newOwnerId())).toEqual({ requeued: [id], abandoned: [] })
    },
  )

  it('treats an earlier incarnation with our pid as dead, and ourselves and live pids as alive', () => {
    const self = newOwnerId()
    const [host, pid] = self.split(':')
    expect(isOwnerDead(`${host}:${pid}:00000000`, self)).toBe(true)
    expect(isOwnerDead(self, self)).toBe(false)
    // A lease token names its process: judged as that process.
    expect(isOwnerDead(newLeaseToken(`${host}:${pid}:00000000`), self)).toBe(true)
    expect(isOwnerDead(newLeaseToken(self), self)).toBe(false)
    expect(isOwnerDead(`${os.hostname()}:4194305:dead/0123abcd`, self)).toBe(true)
    expect(isOwnerDead(`${host}:1:zz`, self)).toBe(false)
    expect(isOwnerDead(`other-host:4194305:zz`, self)).toBe(false)
  })

  it('release puts a job back without counting the attempt; retryLater delays it', async () => {
    const id = await addJob()
    const q = await queue()
    expect(await q.release(id, (await q.claim('me'))!.lease)).toBe(true)
    expect(await store.jobs.get(id)).toMatchObject({ state: 'queued', attempts: 0 })
    const { lease } = (await q.claim('me'))!
    // Timed from before the call: the due time is set inside it.
    const retriedAt = Date.now()
    expect(await q.retryLater(id, lease, 1000)).toBe(true)
    expect(await q.claim('me')).toBeUndefined()
    expect((await claimWhenDue(q, 'me')).id).toBe(id)
    expect(Date.now() - retriedAt).toBeGreaterThanOrEqual(990)
  })

  it('wakes a waiting worker when a job is queued', async () => {
    const q = await queue()
    // Far longer than the test's timeout: only the wake-up can end this wait in time.
    const waiting = q.waitForWork(new AbortController().signal, { maxWaitMs: 600_000 })
    events.publish({ type: 'state', jobId: 'x', state: 'queued' })
    await waiting
    // A wake-up that came before the wait is not lost either.
    events.publish({ type: 'state', jobId: 'y', state: 'queued' })
    await q.waitForWork(new AbortController().signal, { maxWaitMs: 600_000 })
    // Other events are not work.
    const stillWaiting = q.waitForWork(AbortSignal.timeout(200), { maxWaitMs: 600_000 })
    events.publish({ type: 'state', jobId: 'x', state: 'succeeded' })
    events.publish({ type: 'progress', jobId: 'x', progress: 0.5 })
    const woke = await Promise.race([
      stillWaiting.then(() => 'ended'),
      new Promise((resolve) => setTimeout(resolve, 50, 'waiting')),
    ])
    expect(woke).toBe('waiting')
  })

  it("does not wake a worker of one key for another key's due job", async () => {
    await addJob()
    const q = await queue()
    // Key k's job is due now: a worker of every key would not wait at all.
    await q.waitForWork(new AbortController().signal, { maxWaitMs: 600_000 })
    const oneKey = q.waitForWork(AbortSignal.timeout(250), { maxWaitMs: 600_000, filter: { apiKeyId: 'someone-else' } })
    const first = await Promise.race([
      oneKey.then(() => 'ended'),
      new Promise((resolve) => setTimeout(resolve, 100, 'waiting')),
    ])
    expect(first).toBe('waiting')
    await oneKey
  })

  it('announces a job that goes back to the queue, so idle workers anywhere take it', async () => {
    const id = await addJob()
    const q = await queue()
    const queuedAgain: string[] = []
    events.subscribeAll((event) => event.type === 'state' && event.state === 'queued' && queuedAgain.push(event.jobId))
    await q.release(id, (await q.claim('me'))!.lease)
    await q.retryLater(id, (await q.claim('me'))!.lease, 0)
    await q.claim('me')
    clock.advance(LEASE + 1)
    await q.recover(newOwnerId())
    expect(queuedAgain).toEqual([id, id, id])
  })

  it("knows every queued job's position and the depth, through claims, retries, cancels and priorities", async () => {
    const q = await queue()
    // More than twice the counting cap (256), so both ways of counting are exercised.
    const ids = await Promise.all(Array.from({ length: 600 }, (_, i) => addJob(clock.now() + i)))
    // The oracle: every queued row, sorted in claim order.
    const expected = async () => {
      const rows = await t.raw
        .selectFrom('jobs')
        .select(['id', 'priority', 'run_after'])
        .where('state', '=', 'queued')
        .execute()
      rows.sort(
        (a, b) => b.priority - a.priority || a.run_after - b.run_after || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      )
      return rows.map((row) => row.id)
    }
    const check = async (sample: string[]) => {
      const order = await expected()
      expect(await q.depth()).toBe(order.length)
      for (const id of sample)
        expect(await q.positionOf(id), id).toBe(order.includes(id) ? order.indexOf(id) : undefined)
    }
    const sample = () => [ids[0]!, ids[1]!, ids[100]!, ids[300]!, ids[343]!, ids[344]!, ids[345]!, ids[500]!, ids[599]!]
    await check(sample())
    expect(await q.positionOf(ids[0]!)).toBe(0)
    expect(await q.positionOf(ids[599]!)).toBe(599)

    const first = await q.claim('me')
    await check([first!.job.id, ...sample()])
    await q.retryLater(first!.job.id, first!.lease, 60_000)
    await t.raw.updateTable('jobs').set({ state: 'canceled' }).where('id', '=', ids[10]!).execute()
    await t.raw.updateTable('jobs').set({ priority: 5 }).where('id', 'in', [ids[400]!, ids[450]!]).execute()
    await t.raw.updateTable('jobs').set({ priority: -1 }).where('id', '=', ids[5]!).execute()
    await check([ids[10]!, ids[5]!, ids[400]!, ids[450]!, ...sample()])
    expect(await q.positionOf(ids[400]!)).toBe(0)
    expect(await q.positionOf('no-such-job')).toBeUndefined()

    await t.raw.deleteFrom('jobs').where('id', '=', ids[20]!).execute()
    await check(sample())
  })
})
