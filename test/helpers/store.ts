import fs from 'node:fs'
import path from 'node:path'
import type { Kysely } from 'kysely'
import type { Job } from '../../src/domain/job.js'
import { openPostgresStore, openSqliteStore, type PostgresStoreOptions } from '../../src/store/open-store.js'
import { openPostgres } from '../../src/store/postgres.js'
import type { Database } from '../../src/store/schema.js'
import { openSqlite } from '../../src/store/sqlite.js'
import type { Store, StoreKind } from '../../src/store/store.js'
import { tempDir } from './server.js'
import { createSchema, POSTGRES_URL } from './services.js'

export type { StoreKind }

/** Where a store's records are: what `openStoreAt` and `openRawDb` take. */
export type RecordsAt = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; schema?: string }

export interface TestStore {
  store: Store
  dir: string
  at: RecordsAt
  /**
   * Kysely on the same records, for what a test must look at or arrange behind fluxhost's
   * back (an oracle, a row made old); fluxhost's own code never queries outside the store.
   */
  raw: Kysely<Database>
  close(): Promise<void>
}

/** Opens another store (another process, as it were) on the same records. */
export async function openStoreAt(at: RecordsAt, options: PostgresStoreOptions = {}): Promise<Store> {
  return at.kind === 'sqlite'
    ? (await openSqliteStore(at.file)).store
    : (await openPostgresStore(at.url, { ...(at.schema ? { schema: at.schema } : {}), max: 4, ...options })).store
}

/** A plain Kysely on the records at `at`; close it with `destroy()`. */
export function openRawDb(at: RecordsAt): Kysely<Database> {
  return at.kind === 'sqlite'
    ? openSqlite(at.file).db
    : openPostgres(at.url, { ...(at.schema ? { schema: at.schema } : {}), max: 2 }).db
}

/** The API key `k` that test stores hold, as a row. */
export const TEST_KEY = {
  id: 'k',
  name: 'k',
  key_hash: 'h',
  key_prefix: 'p',
  scope: 'user',
  source: 'db',
  created_at: 0,
  revoked_at: null,
  last_used_at: null,
} as const

/**
 * Where fresh, empty records can be made: an SQLite file in a new temporary directory, or a
 * new PostgreSQL schema (`drop` removes it).
 */
export async function freshRecords(kind: StoreKind): Promise<{ at: RecordsAt; dir: string; drop(): Promise<void> }> {
  const dir = tempDir()
  if (kind === 'sqlite') return { at: { kind, file: path.join(dir, 'test.db') }, dir, drop: async () => {} }
  const { schema, drop } = await createSchema()
  return { at: { kind, url: POSTGRES_URL, schema }, dir, drop }
}

/**
 * A fresh store with one API key `k`: SQLite in a temporary directory, or PostgreSQL in a
 * schema of its own (dropped on close).
 */
export async function openTestStore(
  kind: StoreKind = 'sqlite',
  options: PostgresStoreOptions = {},
): Promise<TestStore> {
  const { at, dir, drop: dropSchema } = await freshRecords(kind)
  const store = await openStoreAt(at, options)
  const raw = openRawDb(at)
  await store.keys.insert(TEST_KEY)
  return {
    store,
    dir,
    at,
    raw,
    async close() {
      await raw.destroy()
      await store.close()
      await dropSchema()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A queued job owned by key `k`. */
export function queuedJob(id: string, overrides: Partial<Omit<Job, 'state' | 'result' | 'error'>> = {}): Job {
  return {
    id,
    apiKeyId: 'k',
    model: 'flux-pro-1.1',
    dialect: 'bfl',
    progress: 0,
    request: {
      model: 'flux-pro-1.1',
      prompt: `p ${id}`,
      width: 256,
      height: 256,
      seed: 1,
      numImages: 1,
      promptUpsampling: false,
      raw: false,
      safetyTolerance: 2,
      safetyChecker: true,
      output: { format: 'jpeg', quality: 90 },
    },
    costMicros: 40_000,
    engine: null,
    attempts: 0,
    createdAt: new Date(1_800_000_000_000),
    startedAt: null,
    ...overrides,
    finishedAt: null,
    state: 'queued',
    result: null,
    error: null,
  }
}
