import os from 'node:os'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLocalJobEvents } from '../../src/queue/job-events.js'
import { createJobQueue, type JobQueue } from '../../src/queue/job-queue.js'
import { newOwnerId } from '../../src/queue/owner.js'
import type { Store } from '../../src/store/store.js'
import { testClock } from '../helpers/server.js'
import { probePostgres } from '../helpers/services.js'
import { openTestStore, queuedJob, type StoreKind, type TestStore } from '../helpers/store.js'

// Issue 13, item 13: a worker paused past its lease (a GC pause, SIGSTOP) must not run its job
// twice, and a job taken back from a worker keeps its place in the queue.
let t: TestStore
let store: Store
let q: JobQueue
const clock = testClock()
const LEASE = 10_000
const ELSEWHERE = `${os.hostname()}-elsewhere:1:abcd`

const postgres = await probePostgres()
const KINDS: StoreKind[] = ['sqlite', ...(postgres.ok ? (['postgres'] as const) : [])]

let counter = 0
async function addJob(createdAt = clock.now()): Promise<string> {
  const id = `lease-${String(++counter).padStart(4, '0')}`
  await store.jobs.insert(queuedJob(id, { createdAt: new Date(createdAt) }))
  return id
}

const done = () => ({ result: { images: [], prompt: 'p', seed: 1 }, engine: 'x', now: clock.now() })
const failure = () => ({ error: { code: 'INTERNAL_ERROR' as const, message: 'm' }, engine: null, now: clock.now() })

describe.each(KINDS)('the job queue’s leases: %s', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind)
    store = t.store
    q = createJobQueue({ store, events: createLocalJobEvents(), clock, leaseMs: LEASE, maxAttempts: 3 })
  })
  afterEach(async () => {
    await t.close()
  })

  it('a lease is one claim’s: taken back and claimed again, the old token writes nothing', async () => {
    const id = await addJob()
    const self = newOwnerId()
    const first = (await q.claim(self))!
    // Paused past its lease: its own recovery (not told it runs the job) takes it back, and
    // the same process claims it again.
    clock.advance(LEASE + 1)
    expect(await q.recover(self)).toEqual({ requeued: [id], abandoned: [] })
    const second = (await q.claim(self))!
    expect(second.job).toMatchObject({ id, attempts: 2 })
    expect(second.lease).not.toBe(first.lease)
    expect(await q.extend(id, first.lease, 0.9)).toBe(false)
    expect(await store.jobs.complete(id, first.lease, done())).toBeUndefined()
    expect(await store.jobs.fail(id, first.lease, failure())).toBeUndefined()
    expect(await q.retryLater(id, first.lease, 0)).toBe(false)
    expect(await q.release(id, first.lease)).toBe(false)
    expect(await q.extend(id, second.lease, 0.5)).toBe(true)

    // Taken back again and claimed by another process: the second claim is as dead.
    clock.advance(LEASE + 1)
    expect(await q.recover(newOwnerId())).toEqual({ requeued: [id], abandoned: [] })
    const third = (await q.claim(ELSEWHERE))!
    expect(await q.extend(id, second.lease, 0.9)).toBe(false)
    expect(await store.jobs.complete(id, second.lease, done())).toBeUndefined()
    expect(await store.jobs.fail(id, second.lease, failure())).toBeUndefined()
    expect(await store.jobs.get(id)).toMatchObject({ state: 'running', attempts: 3, progress: 0.5 })
    expect(await store.jobs.complete(id, third.lease, done())).toMatchObject({ state: 'succeeded' })
  })

  it('recovery leaves alone the jobs the recovering process runs, though their lease ran out', async () => {
    const running = await addJob(clock.now() - 1)
    const orphan = await addJob()
    const self = newOwnerId()
    const mine = (await q.claim(self))!
    expect(mine.job.id).toBe(running)
    // Claimed by this process but not running here (its run was lost): fair game once expired.
    await q.claim(self)
    clock.advance(LEASE + 1)
    expect(await q.recover(self, new Set([running]))).toEqual({ requeued: [orphan], abandoned: [] })
    expect(await store.jobs.get(running)).toMatchObject({ state: 'running', attempts: 1 })
    // Its next heartbeat finds the lease still its own, and extends it.
    expect(await q.extend(running, mine.lease, 0.5)).toBe(true)
    expect(await q.recover(self)).toEqual({ requeued: [], abandoned: [] })
  })

  it('a recovery that read a lease before a late heartbeat extended it does not take the job', async () => {
    const id = await addJob()
    const { lease } = (await q.claim(newOwnerId()))!
    clock.advance(LEASE + 1)
    // Recovery judged the lease expired at `readAt`; the heartbeat came between its read and its write.
    const readAt = clock.now()
    expect(await q.extend(id, lease, 0.5)).toBe(true)
    expect(await store.jobs.requeue(id, lease, null, 0, readAt)).toBe(false)
    expect(await store.jobs.abandon(id, lease, readAt, readAt)).toBe(false)
    expect(await store.jobs.get(id)).toMatchObject({ state: 'running', progress: 0.5 })
  })

  it('a claim passes over the jobs the claimer runs, and its wait is not woken by them', async () => {
    const runningHere = await addJob(clock.now() - 1)
    const next = await addJob()
    // Another process took `runningHere` back from this one (a pause) and re-queued it.
    expect((await q.claim('me', { exclude: [runningHere] }))?.job.id).toBe(next)
    expect(await q.claim('me', { exclude: [runningHere] })).toBeUndefined()
    const waiting = q.waitForWork(AbortSignal.timeout(250), { maxWaitMs: 600_000, filter: { exclude: [runningHere] } })
    const first = await Promise.race([
      waiting.then(() => 'ended'),
      new Promise((resolve) => setTimeout(resolve, 100, 'waiting')),
    ])
    expect(first).toBe('waiting')
    await waiting
    expect((await q.claim('other'))?.job.id).toBe(runningHere)
  })

  it('a recovered or released job keeps its place: it is claimed before jobs enqueued after it', async () => {
    const at = clock.now()
    const recovered = await addJob(at - 30)
    const released = await addJob(at - 20)
    await q.claim(ELSEWHERE)
    const { lease } = (await q.claim('me'))!
    const later = [await addJob(at - 10), await addJob(at)]
    // Graceful shutdown puts one back; the other's worker stopped and its lease ran out.
    expect(await q.release(released, lease)).toBe(true)
    clock.advance(LEASE + 1)
    expect(await q.recover(newOwnerId())).toEqual({ requeued: [recovered], abandoned: [] })
    expect(await q.positionOf(recovered)).toBe(0)
    expect(await q.positionOf(released)).toBe(1)
    const order = []
    for (let claim = await q.claim('next'); claim; claim = await q.claim('next')) order.push(claim.job.id)
    expect(order).toEqual([recovered, released, ...later])
  })

  it('a retried job still waits out its delay behind the jobs that are due', async () => {
    const retried = await addJob(clock.now() - 1)
    const due = await addJob()
    const { lease } = (await q.claim('me'))!
    expect(await q.retryLater(retried, lease, 60_000)).toBe(true)
    expect((await q.claim('me'))?.job.id).toBe(due)
    expect(await q.claim('me')).toBeUndefined()
  })
})
