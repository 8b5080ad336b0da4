import fs from 'node:fs'
import path from 'node:path'
import type { Job } from '../../src/domain/job.js'
import { openPostgresStore, openSqliteStore } from '../../src/store/open-store.js'
import type { Store } from '../../src/store/store.js'
import { tempDir } from './server.js'
import { createSchema, POSTGRES_URL } from './services.js'

export type StoreKind = Store['kind']

/**
 * A fresh store with one API key `k`: SQLite in a temporary directory, or PostgreSQL in a
 * schema of its own (dropped on close).
 */
export async function openTestStore(kind: StoreKind = 'sqlite'): Promise<{ store: Store; dir: string; close(): Promise<void> }> {
  const dir = tempDir()
  let dropSchema = async () => {}
  let store: Store
  if (kind === 'postgres') {
    const { schema, drop } = await createSchema()
    dropSchema = drop
    store = (await openPostgresStore(POSTGRES_URL, { schema, max: 4 })).store
  } else {
    store = (await openSqliteStore(path.join(dir, 'test.db'))).store
  }
  await store.keys.insert({ id: 'k', name: 'k', key_hash: 'h', key_prefix: 'p', scope: 'user', source: 'db', created_at: 0, revoked_at: null, last_used_at: null })
  return {
    store,
    dir,
    async close() {
      await store.close()
      await dropSchema()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A queued job owned by key `k`. */
export function queuedJob(id: string, overrides: Partial<Job> = {}): Job {
  return {
    id,
    apiKeyId: 'k',
    model: 'flux-pro-1.1',
    dialect: 'bfl',
    state: 'queued',
    progress: 0,
    request: { model: 'flux-pro-1.1', prompt: `p ${id}`, width: 256, height: 256, seed: 1, numImages: 1, promptUpsampling: false, raw: false, safetyTolerance: 2, safetyChecker: true, output: { format: 'jpeg', quality: 90 } },
    result: null,
    error: null,
    costMicros: 40_000,
    engine: null,
    attempts: 0,
    createdAt: new Date(1_800_000_000_000),
    startedAt: null,
    finishedAt: null,
    ...overrides,
  }
}
