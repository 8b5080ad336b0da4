import path from 'node:path'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openPostgresStore, openSqliteStore } from '../../src/store/open-store.js'
import type { Store } from '../../src/store/store.js'
import { createSchema, POSTGRES_URL, probePostgres } from '../helpers/services.js'
import { openTestStore, queuedJob, type StoreKind } from '../helpers/store.js'

let t: Awaited<ReturnType<typeof openTestStore>>
let store: Store
const postgres = await probePostgres()
const KINDS: StoreKind[] = postgres.ok ? ['sqlite', 'postgres'] : ['sqlite']

const job = (id: string, apiKeyId = 'k') => queuedJob(id, { apiKeyId })

describe.each(KINDS)('job inserts (group commit) on %s', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind)
    store = t.store
  })
  afterEach(() => t.close())

  it('commits concurrent inserts and round-trips every field', async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.jobs.insert(job(`j${String(i).padStart(2, '0')}`))))
    expect((await store.jobs.countByState()).queued).toBe(50)
    expect(await store.jobs.get('j07')).toEqual(job('j07'))
  })

  it('searches prompts in any case, newest first, and stops at its scan limit saying where to go on', async () => {
    const prompts = ['A Red apple', 'hay', 'red APPLE pie', 'hay', 'another red apple', 'hay']
    for (const [i, prompt] of prompts.entries()) {
      const base = job(`s${i}`)
      await store.jobs.insert({ ...base, request: { ...base.request, prompt } })
    }
    const all = await store.jobs.search({ apiKeyId: 'k', limit: 10 }, 'RED apple', 100)
    expect(all).toEqual({
      jobs: [
        expect.objectContaining({ id: 's4' }),
        expect.objectContaining({ id: 's2' }),
        expect.objectContaining({ id: 's0' }),
      ],
      scannedTo: null,
    })
    // Two jobs looked at (s5, s4): one match, and the search goes on after s4.
    const first = await store.jobs.search({ apiKeyId: 'k', limit: 10 }, 'red apple', 2)
    expect(first.jobs.map((j) => j.id)).toEqual(['s4'])
    expect(first.scannedTo).toBe('s4')
    const next = await store.jobs.search({ apiKeyId: 'k', limit: 10, before: first.scannedTo! }, 'red apple', 2)
    expect(next).toEqual({ jobs: [expect.objectContaining({ id: 's2' })], scannedTo: 's2' })
    // Enough matches stop it before the limit: nothing to go on from.
    expect((await store.jobs.search({ apiKeyId: 'k', limit: 1 }, 'apple', 100)).scannedTo).toBeNull()
    // A key's search never sees another key's jobs.
    expect((await store.jobs.search({ apiKeyId: 'other', limit: 10 }, 'apple', 100)).jobs).toEqual([])
  })

  it('a bad row fails alone; its neighbours in the same batch are still written', async () => {
    await store.jobs.insert(job('dup'))
    const results = await Promise.allSettled([
      store.jobs.insert(job('a')),
      store.jobs.insert(job('dup')),
      store.jobs.insert(job('b', 'no-such-key')),
      store.jobs.insert(job('c')),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled'])
    expect((await store.jobs.list({ limit: 10 })).map((j) => j.id).sort()).toEqual(['a', 'c', 'dup'])
  })

  it.runIf(kind === 'sqlite')("sees another connection's commits through dataVersion", async () => {
    const other = (await openSqliteStore(path.join(t.dir, 'test.db'))).store
    try {
      const before = store.dataVersion()
      await other.jobs.insert(job('from-elsewhere'))
      // dataVersion is read once per event-loop turn; the next turn sees the new value.
      await new Promise((resolve) => setImmediate(resolve))
      expect(store.dataVersion()).not.toBe(before)
    } finally {
      await other.close()
    }
  })
})

// Several fluxhosts (or test files) may share one database in schemas of their own. Kysely's
// migrator reads the whole catalog (has_schema_privilege on every schema), which fails with
// 3F000 when another schema is dropped during the read: a start must not fail for that.
describe.runIf(postgres.ok)('migrations on a shared PostgreSQL', () => {
  it('succeed while other schemas in the database are created and dropped', async () => {
    const churn = new pg.Client({ connectionString: POSTGRES_URL })
    await churn.connect()
    let stop = false
    const churning = (async () => {
      for (let i = 0; !stop; i++) {
        const name = `churn_${process.pid}_${i}`
        await churn.query(`create schema ${name}; create table ${name}.t (id serial primary key)`)
        await churn.query(`drop schema ${name} cascade`)
      }
    })()
    const opened: Array<{ schema: string; drop(): Promise<void> }> = []
    try {
      for (let i = 0; i < 8; i++) {
        const s = await createSchema()
        opened.push(s)
        const { store } = await openPostgresStore(POSTGRES_URL, { schema: s.schema, max: 1 })
        await store.close()
      }
    } finally {
      stop = true
      await churning
      await churn.end()
      for (const s of opened) await s.drop()
    }
  })
})
