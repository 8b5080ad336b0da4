import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LimitDefaults } from '../../src/domain/limits.js'
import type { Store } from '../../src/store/store.js'
import { probePostgres } from '../helpers/services.js'
import { openStoreAt, openTestStore, queuedJob, type StoreKind, TEST_KEY } from '../helpers/store.js'

const postgres = await probePostgres()
const KINDS: StoreKind[] = postgres.ok ? ['sqlite', 'postgres'] : ['sqlite']

const NOW = 1_800_000_001_000 // queuedJob's jobs are due from 1_800_000_000_000
const DAY = 86_400_000
const NONE: LimitDefaults = {}
const result = { images: [], prompt: 'p', seed: 1 }

/** What the counters must say: the key's queued and running jobs, counted from the jobs themselves. */
async function oracle(store: Store, keyId: string) {
  const jobs = (await store.jobs.list({ apiKeyId: keyId, limit: 1000 })).filter(
    (job) => job.state === 'queued' || job.state === 'running',
  )
  return { activeJobs: jobs.length, reservedMicros: jobs.reduce((sum, job) => sum + job.costMicros, 0) }
}

/** A reservation and its job, as a create makes them: one transaction. */
async function reserveAndInsert(store: Store, id: string, now = NOW, defaults = NONE, keyId = 'k') {
  return store.transaction(async (tx) => {
    const row = await tx.limits.reserve(keyId, 40_000, now, defaults)
    if (!row) return false
    await tx.jobs.insert(queuedJob(id, { apiKeyId: keyId, createdAt: new Date(now - 1000) }))
    return true
  })
}

describe.each(KINDS)('per-key limits in the store: %s', (kind) => {
  let t: Awaited<ReturnType<typeof openTestStore>>
  beforeEach(async () => {
    t = await openTestStore(kind)
  })
  afterEach(() => t.close())

  it('keeps active_jobs and reserved_micros equal to the jobs themselves on every path a job ends by', async () => {
    const { store } = t
    const claim = () => store.jobs.claim({ owner: 'w/1', now: NOW, leaseMs: 60_000 })
    const check = async () => expect(await store.limits.get('k')).toMatchObject(await oracle(store, 'k'))
    for (let i = 0; i < 8; i++) await store.jobs.insert(queuedJob(`j${i}`, { costMicros: 40_000 * (i + 1) }))
    await check()
    expect((await store.limits.get('k'))?.activeJobs).toBe(8)
    await store.jobs.cancel('j7', NOW) // queued → canceled
    await check()
    const a = (await claim())!
    await store.jobs.complete(a.id, 'w/1', { result, engine: 'x', now: NOW, costMicros: 0 })
    await check()
    const b = (await claim())!
    await store.jobs.fail(b.id, 'w/1', { error: { code: 'GENERATION_FAILED', message: 'x' }, engine: 'x', now: NOW })
    await check()
    const c = (await claim())!
    await store.jobs.requeue(c.id, 'w/1', NOW + 10, 0) // a retry stays reserved
    await check()
    const d = (await claim())!
    await store.jobs.abandon(d.id, 'w/1', NOW)
    await check()
    const e = (await claim())!
    await store.jobs.cancel(e.id, NOW) // running → canceled
    await check()
    await store.jobs.cancelAllOfKey('k', NOW, 'revoked')
    await check()
    expect(await store.limits.get('k')).toMatchObject({ activeJobs: 0, reservedMicros: 0 })
  })

  it('reserves only within concurrency, credits and budget; a new UTC day renews the budget', async () => {
    const { store } = t
    await store.limits.set('k', { maxConcurrency: 2 })
    expect(await reserveAndInsert(store, 'a')).toBe(true)
    expect(await reserveAndInsert(store, 'b')).toBe(true)
    expect(await reserveAndInsert(store, 'c')).toBe(false)
    await store.jobs.cancel('a', NOW)
    expect(await reserveAndInsert(store, 'c')).toBe(true)

    await store.limits.set('k', { maxConcurrency: -1 })
    await store.transaction((tx) =>
      tx.limits.credit({ id: 'l1', apiKeyId: 'k', kind: 'set', micros: 120_000, actor: 't', note: null, now: NOW }),
    )
    // 120,000 credits-µ$ less b's and c's reservations (80,000): room for one job of 40,000.
    expect(await reserveAndInsert(store, 'd')).toBe(true)
    expect(await reserveAndInsert(store, 'e')).toBe(false)
    // A success settles: the charge comes off the balance, the reservation goes with the job.
    const claimed = (await store.jobs.claim({ owner: 'w/1', now: NOW, leaseMs: 60_000 }))!
    await store.transaction(async (tx) => {
      await tx.jobs.complete(claimed.id, 'w/1', { result, engine: 'x', now: NOW })
      await tx.limits.settle('k', 40_000, NOW)
    })
    expect(await store.limits.get('k')).toMatchObject({ creditsMicros: 80_000, reservedMicros: 80_000 })
    expect(await reserveAndInsert(store, 'e')).toBe(false)
    await store.jobs.cancelAllOfKey('k', NOW, 'x')
    expect(await reserveAndInsert(store, 'e')).toBe(true)
    await store.jobs.cancelAllOfKey('k', NOW, 'x')

    // A budget of 80,000 per day (the server's default): spent 40,000 today, room for one more.
    await store.transaction((tx) =>
      tx.limits.credit({ id: 'l2', apiKeyId: 'k', kind: 'set', micros: null, actor: 't', note: null, now: NOW }),
    )
    const daily: LimitDefaults = { budget: { micros: 80_000, period: 'day' } }
    // The budget in force comes from the API's last look at the key and the defaults (a worker
    // settles with whatever configuration it has).
    await store.limits.refreshInForce(daily, NOW)
    expect(await store.limits.settle('k', 40_000, NOW)).toMatchObject({
      spentMicros: 40_000,
      budgetMicros: 80_000,
      period: 'day',
    })
    expect(await reserveAndInsert(store, 'f', NOW, daily)).toBe(true)
    expect(await reserveAndInsert(store, 'g', NOW, daily)).toBe(false)
    await store.jobs.cancel('f', NOW)
    // The next UTC day starts from nothing spent.
    const tomorrow = Math.floor(NOW / DAY + 1) * DAY + 5
    expect(await reserveAndInsert(store, 'g', tomorrow, daily)).toBe(true)
    expect(await reserveAndInsert(store, 'h', tomorrow, daily)).toBe(true)
    expect(await reserveAndInsert(store, 'i', tomorrow, daily)).toBe(false)
    // The key's own "none" outranks the server's default.
    await store.limits.set('k', { budgetMicros: -1 })
    expect(await reserveAndInsert(store, 'i', tomorrow, daily)).toBe(true)
  })

  it('takes a default budget past 32 bits of micro-dollars ($5,000 a month), reserving and settling', async () => {
    const { store } = t
    const big: LimitDefaults = { budget: { micros: 5_000_000_000, period: 'month' } }
    expect(await reserveAndInsert(store, 'big', NOW, big)).toBe(true)
    const claimed = (await store.jobs.claim({ owner: 'w/1', now: NOW, leaseMs: 60_000 }))!
    const settled = await store.transaction(async (tx) => {
      await tx.jobs.complete(claimed.id, 'w/1', { result, engine: 'x', now: NOW })
      return tx.limits.settle('k', 40_000, NOW)
    })
    expect(settled).toMatchObject({ spentMicros: 40_000, budgetMicros: 5_000_000_000, period: 'month' })
  })

  it('counts creates per minute, refusing past the limit until the next minute', async () => {
    const { store } = t
    await store.limits.set('k', { rpmLimit: 3 })
    const minute = Math.floor(NOW / 60_000) * 60_000
    const outcomes = []
    for (let i = 0; i < 4; i++) outcomes.push(await reserveAndInsert(store, `r${i}`, minute + 1000 + i))
    expect(outcomes).toEqual([true, true, true, false])
    expect(await store.limits.get('k')).toMatchObject({ rpmCount: 3, rpmWindow: minute })
    expect(await reserveAndInsert(store, 'r4', minute + 60_000)).toBe(true)
    expect(await store.limits.get('k')).toMatchObject({ rpmCount: 1, rpmWindow: minute + 60_000 })
  })

  it('takes turns across keys: one queued job of B runs next, not after all of A', async () => {
    const { store } = t
    await store.keys.insert({ ...TEST_KEY, id: 'b', key_hash: 'hb' })
    await store.keys.insert({ ...TEST_KEY, id: 'c', key_hash: 'hc' })
    for (let i = 0; i < 20; i++)
      await store.jobs.insert(queuedJob(`a${String(i).padStart(2, '0')}`, { createdAt: new Date(NOW - 60_000 + i) }))
    // A's later job of higher priority still goes first among A's own.
    await store.jobs.insert(queuedJob('a-urgent', { createdAt: new Date(NOW - 100) }))
    await t.raw.updateTable('jobs').set({ priority: 5 }).where('id', '=', 'a-urgent').execute()
    const claim = async () => (await store.jobs.claim({ owner: 'w/1', now: NOW, leaseMs: 60_000 }))?.id
    expect(await claim()).toBe('a-urgent')
    await store.jobs.insert(queuedJob('b1', { apiKeyId: 'b', createdAt: new Date(NOW - 50) }))
    await store.jobs.insert(queuedJob('b2', { apiKeyId: 'b', createdAt: new Date(NOW - 40) }))
    await store.jobs.insert(queuedJob('c1', { apiKeyId: 'c', createdAt: new Date(NOW - 30) }))
    // B and C have not been served: they go before A again; then turns until they run out.
    const order = []
    for (let i = 0; i < 6; i++) order.push(await claim())
    expect(order).toEqual(['b1', 'c1', 'a00', 'b2', 'a01', 'a02'])
  })
})

describe.runIf(postgres.ok)('reservations from two connection pools at once (PostgreSQL)', () => {
  it('accept exactly as many jobs as the credits cover', async () => {
    const t = await openTestStore('postgres')
    const other = await openStoreAt(t.at)
    try {
      await t.store.transaction((tx) =>
        tx.limits.credit({ id: 'l', apiKeyId: 'k', kind: 'set', micros: 400_000, actor: 't', note: null, now: NOW }),
      )
      const outcomes = await Promise.all(
        Array.from({ length: 120 }, (_, i) => reserveAndInsert(i % 2 ? t.store : other, `p${i}`)),
      )
      expect(outcomes.filter(Boolean)).toHaveLength(10)
      expect(await t.store.limits.get('k')).toMatchObject({ activeJobs: 10, reservedMicros: 400_000 })
    } finally {
      await other.close()
      await t.close()
    }
  })
})
