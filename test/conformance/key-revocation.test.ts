import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FluxhostError } from '../../src/domain/errors.js'
import { createLocalJobEvents, type JobEvent } from '../../src/queue/job-events.js'
import { createKeyService, REVOKED_MESSAGE } from '../../src/services/keys.js'
import type { Store } from '../../src/store/store.js'
import { probePostgres } from '../helpers/services.js'
import { openStoreAt, openTestStore, queuedJob, type StoreKind } from '../helpers/store.js'

const postgres = await probePostgres()
const KINDS: StoreKind[] = postgres.ok ? ['sqlite', 'postgres'] : ['sqlite']

let ids = 0
const keyService = (store: Store, staticKeys: string[] = [], events = createLocalJobEvents()) =>
  createKeyService({ store, clock: { now: () => Date.now() }, newId: () => `key_${++ids}`, staticKeys, events })

const codeOf = (outcome: PromiseSettledResult<unknown>) =>
  outcome.status === 'rejected' ? (outcome.reason as FluxhostError).code : 'revoked'

describe.each(KINDS)('revoking a key on %s', (kind) => {
  let t: Awaited<ReturnType<typeof openTestStore>>
  beforeEach(async () => {
    t = await openTestStore(kind)
  })
  afterEach(() => t.close())

  it("cancels the key's queued and running jobs, nothing else; the worker's result lands nowhere", async () => {
    const { store } = t
    const events = createLocalJobEvents()
    const seen: JobEvent[] = []
    events.subscribeAll((event) => seen.push(event))
    const keys = keyService(store, [], events)
    const other = await keys.create('other')
    const now = 1_800_000_001_000 // queuedJob's jobs are due from 1_800_000_000_000
    const result = { images: [], prompt: 'p', seed: 1 }
    const claim = (apiKeyId: string) => store.jobs.claim({ owner: 'w/1', now, leaseMs: 60_000, apiKeyId })
    await store.jobs.insert(queuedJob('done'))
    await store.jobs.complete((await claim('k'))!.id, 'w/1', { result, engine: 'x', now })
    await store.jobs.insert(queuedJob('running'))
    expect((await claim('k'))?.id).toBe('running')
    await store.jobs.insert(queuedJob('queued-1'))
    // Due later, as a job waiting to be retried.
    await store.jobs.insert(queuedJob('queued-2', { createdAt: new Date(now + 60_000) }))
    await store.jobs.insert(queuedJob('others', { apiKeyId: other.apiKey.id }))

    const { apiKey, canceledJobs } = await keys.revoke('k')
    expect(apiKey.revokedAt).not.toBeNull()
    expect(canceledJobs.map((job) => job.id).sort()).toEqual(['queued-1', 'queued-2', 'running'])
    for (const id of ['queued-1', 'queued-2', 'running']) {
      expect(await store.jobs.get(id)).toMatchObject({
        state: 'canceled',
        error: { code: 'JOB_CANCELED', message: REVOKED_MESSAGE },
      })
      expect(seen).toContainEqual({ type: 'cancel', jobId: id })
      expect(seen).toContainEqual({ type: 'state', jobId: id, state: 'canceled' })
    }
    expect((await store.jobs.get('done'))?.state).toBe('succeeded')
    expect((await store.jobs.get('others'))?.state).toBe('queued')
    // The worker running the job finds it gone: its completion writes nothing (so no charge).
    expect(await store.jobs.complete('running', 'w/1', { result, engine: 'x', now })).toBe(undefined)
    // None of them is ever claimed: the queue holds only the other key's job.
    expect((await store.jobs.claim({ owner: 'w/2', now: now + 120_000, leaseMs: 60_000 }))?.id).toBe('others')
    expect(await store.jobs.claim({ owner: 'w/2', now: now + 120_000, leaseMs: 60_000 })).toBeUndefined()
    // Revoking it again is no error, and cancels nothing more.
    expect((await keys.revoke('k')).canceledJobs).toEqual([])
  })

  it('refuses to revoke the last active admin key (409), unless FLUXHOST_API_KEYS gives an admin', async () => {
    const keys = keyService(t.store)
    const first = (await keys.create('first', 'admin')).apiKey
    const second = (await keys.create('second', 'admin')).apiKey
    await keys.revoke(first.id)
    const refused = await keys.revoke(second.id).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(FluxhostError)
    expect(refused).toMatchObject({ code: 'LAST_ADMIN_KEY', status: 409 })
    expect((refused as Error).message).toMatch(/"second" is the last active admin key/)
    expect((await t.store.keys.get(second.id))?.revoked_at).toBeNull()
    // User keys never count, and are always revocable.
    expect((await keys.revoke('k')).apiKey.revokedAt).not.toBeNull()
    // With a key from FLUXHOST_API_KEYS (an admin key only the configuration removes), it may go.
    expect((await keyService(t.store, ['static-admin-key']).revoke(second.id)).apiKey.revokedAt).not.toBeNull()
  })

  it('lets exactly one of two revocations of the last two admin keys through, however they interleave', async () => {
    // PostgreSQL: two processes (each its own pool). SQLite: two requests of one process (its one
    // connection takes transactions in turn; another process waits for the writer lock).
    const second = kind === 'postgres' ? await openStoreAt(t.at) : t.store
    try {
      const [a, b] = [keyService(t.store), keyService(second)]
      let survivor = (await a.create('admin-0', 'admin')).apiKey.id
      for (let round = 1; round <= 8; round++) {
        const fresh = (await b.create(`admin-${round}`, 'admin')).apiKey.id
        const outcomes = await Promise.allSettled([a.revoke(survivor), b.revoke(fresh)])
        expect(outcomes.map(codeOf).sort(), `round ${round}`).toEqual(['LAST_ADMIN_KEY', 'revoked'])
        const active = (await t.store.keys.list()).filter((k) => k.scope === 'admin' && k.revoked_at === null)
        expect(active).toHaveLength(1)
        survivor = active[0]!.id
      }
    } finally {
      if (second !== t.store) await second.close()
    }
  })
})
