import { type Kysely, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { MIGRATIONS, migrateToLatest } from '../../src/store/migrate.js'
import type { Database } from '../../src/store/schema.js'
import { probePostgres } from '../helpers/services.js'
import { freshRecords, openRawDb, openStoreAt, type RecordsAt, type StoreKind, TEST_KEY } from '../helpers/store.js'

const postgres = await probePostgres()
const KINDS: StoreKind[] = ['sqlite', ...(postgres.ok ? (['postgres'] as const) : [])]

/** 0004 as it was for an hour after it shipped (commit fec724d): with `holder`, no default. */
const EDITED_0004 = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('idempotency_keys')
      .addColumn('api_key_id', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('holder', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('locked_until', 'bigint')
      .addColumn('status', 'integer')
      .addColumn('body', 'text')
      .addColumn('content_type', 'text')
      .addColumn('job_id', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_keys_pk', ['api_key_id', 'key'])
      .execute()
    await db.schema.createIndex('idempotency_expiry').on('idempotency_keys').column('expires_at').execute()
  },
}

// 0007 makes, as a migration, the changes once made by editing shipped ones: a database
// that ran the edited texts and one that ran the shipped ones (every fresh database does
// now) must both end up working.
describe.each(KINDS)('migration 0007 on %s', (kind) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  const records = async (): Promise<{ at: RecordsAt; raw: Kysely<Database> }> => {
    const { at, drop } = await freshRecords(kind)
    cleanups.push(drop)
    const raw = openRawDb(at)
    cleanups.push(() => raw.destroy())
    return { at, raw }
  }

  const holderColumns = async (raw: Kysely<Database>) => {
    const count =
      kind === 'postgres'
        ? sql<{ n: number }>`select count(*)::int as n from information_schema.columns
            where table_schema = current_schema() and table_name = 'idempotency_keys' and column_name = 'holder'`
        : sql<{ n: number }>`select count(*) as n from pragma_table_info('idempotency_keys') where name = 'holder'`
    return (await count.execute(raw)).rows[0]!.n
  }

  it('upgrades a database that ran the edited 0004 (holder already there), and idempotency keys work', async () => {
    const { at, raw } = await records()
    const edited = { ...MIGRATIONS, '0004_idempotency': EDITED_0004 }
    const history = Object.fromEntries(Object.entries(edited).filter(([name]) => name < '0007'))
    const schema = at.kind === 'postgres' ? at.schema : undefined
    await migrateToLatest(raw, at.kind === 'postgres' ? { schema } : undefined, history)
    expect(await holderColumns(raw)).toBe(1)
    const store = await openStoreAt(at)
    cleanups.push(() => store.close())
    expect(await holderColumns(raw)).toBe(1)
    await store.keys.insert(TEST_KEY)
    const claim = await store.idempotency.claim('k', 'key-1', 'fp', 'holder-1', 0, 1_000, 60_000)
    expect(claim.kind).toBe('acquired')
  })

  it('adds holder where the shipped 0004 ran, and runs the trigger functions on their schema', async () => {
    const { at, raw } = await records()
    const store = await openStoreAt(at)
    cleanups.push(() => store.close())
    expect(await holderColumns(raw)).toBe(1)
    if (kind !== 'postgres') return
    const { rows } = await sql<{ name: string; config: string[] | null }>`
      select p.proname as name, p.proconfig as config from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = current_schema() and p.proname in ('fluxhost_queue_depth', 'fluxhost_webhook_on_finish')
      order by 1`.execute(raw)
    expect(rows.map((row) => [row.name, row.config?.some((c) => c.startsWith('search_path=')) ?? false])).toEqual([
      ['fluxhost_queue_depth', true],
      ['fluxhost_webhook_on_finish', true],
    ])
  })
})
