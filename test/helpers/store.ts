import fs from 'node:fs'
import path from 'node:path'
import type { Job } from '../../src/domain/job.js'
import { openSqliteStore } from '../../src/store/open-store.js'
import type { Store } from '../../src/store/store.js'
import { tempDir } from './server.js'

/** A fresh SQLite store in a temporary directory, with one API key `k`. */
export async function openTestStore(): Promise<{ store: Store; dir: string; close(): Promise<void> }> {
  const dir = tempDir()
  const { store } = await openSqliteStore(path.join(dir, 'test.db'))
  await store.keys.insert({ id: 'k', name: 'k', key_hash: 'h', key_prefix: 'p', scope: 'user', source: 'db', created_at: 0, revoked_at: null, last_used_at: null })
  return {
    store,
    dir,
    async close() {
      await store.close()
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
