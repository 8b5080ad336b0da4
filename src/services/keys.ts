import { createHash, randomBytes } from 'node:crypto'
import type { ApiKey, KeyScope } from '../domain/api-key.js'
import type { Clock } from '../domain/clock.js'
import { FluxhostError } from '../domain/errors.js'
import type { Job } from '../domain/job.js'
import type { JobEvents } from '../queue/job-events.js'
import type { ApiKeyRow } from '../store/key-repository.js'
import type { Store } from '../store/store.js'

export const KEY_PREFIX = 'fh_'
/** The id of the key that owns jobs made by the in-process CLI. */
export const LOCAL_KEY_ID = 'local'

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

type KeyColumns = Omit<ApiKeyRow, 'webhook_secret' | 'budget_period' | 'active_jobs' | 'reserved_micros'>
type ApiKeyFields = Pick<ApiKeyRow, 'id' | 'name' | 'scope' | 'source' | 'key_prefix' | 'created_at'> &
  Partial<Pick<KeyColumns, 'revoked_at' | 'last_used_at' | 'max_concurrency' | 'rpm_limit' | 'budget_micros'>> &
  Partial<Pick<KeyColumns, 'credits_micros'>>

const numOrNull = (value: number | null | undefined) => (value === null || value === undefined ? null : Number(value))

function toApiKey(row: ApiKeyFields): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scope: row.scope,
    source: row.source,
    prefix: row.key_prefix,
    createdAt: new Date(Number(row.created_at)),
    revokedAt: row.revoked_at == null ? null : new Date(Number(row.revoked_at)),
    lastUsedAt: row.last_used_at == null ? null : new Date(Number(row.last_used_at)),
    limits: {
      concurrency: numOrNull(row.max_concurrency),
      rpm: numOrNull(row.rpm_limit),
      budgetMicros: numOrNull(row.budget_micros),
      credits: row.credits_micros != null,
    },
  }
}

// Writing last_used_at on every request would turn every read into a write.
const TOUCH_INTERVAL_MS = 60_000

export interface KeyServiceDeps {
  store: Store
  clock: Clock
  newId(): string
  /** FLUXHOST_API_KEYS of this process: env keys work only where they are configured. */
  staticKeys: readonly string[]
  /** Where a revocation announces the jobs it canceled (workers abort them, waiters wake). */
  events: JobEvents
}

/** The error message of the jobs a key's revocation cancels. */
export const REVOKED_MESSAGE = 'The job was canceled: its API key was revoked.'

/**
 * API keys: stored as SHA-256 hashes (keys are 192 random bits, so a slow hash adds
 * nothing), shown in full exactly once, when created.
 */
export function createKeyService({ store, clock, newId, staticKeys, events }: KeyServiceDeps) {
  const touched = new Map<string, number>()
  const staticHashes = new Set(staticKeys.map(hashKey))
  // presented key → the key (or null: no such key), valid while no other process has
  // written the records (a `keys revoke` from the CLI) and this process has not changed
  // any key. Keyed by the key as presented, so a hit costs no hashing; it lives only in
  // this process's memory, where every request's key passes anyway.
  const cache = new Map<string, ApiKey | null>()
  let cachedAt = -1
  const MAX_CACHED = 10_000

  const fresh = () => {
    const version = store.dataVersion()
    if (version !== cachedAt) {
      cache.clear()
      cachedAt = version
    }
  }

  const noteUse = (apiKey: ApiKey) => {
    const now = clock.now()
    if ((touched.get(apiKey.id) ?? 0) + TOUCH_INTERVAL_MS >= now) return
    touched.set(apiKey.id, now)
    // Bookkeeping only: a failed write must not fail the request it rides on.
    store.keys.touch(apiKey.id, now).catch(() => touched.delete(apiKey.id))
  }

  /** The cached verdict for a key: the key, null (rejected), or undefined (not cached). */
  const cached = (key: string | undefined): ApiKey | null | undefined => {
    if (!key || key.length > 512) return null
    fresh()
    const hit = cache.get(key)
    if (hit) noteUse(hit)
    return hit
  }

  const load = async (key: string): Promise<ApiKey | undefined> => {
    const hash = hashKey(key)
    const row = await store.keys.findActiveByHash(hash)
    // An env key's row outlives its removal from FLUXHOST_API_KEYS (its jobs point at it),
    // so the list this process was started with decides whether it still works.
    const apiKey = row && !(row.source === 'env' && !staticHashes.has(hash)) ? toApiKey(row) : undefined
    if (cache.size >= MAX_CACHED) cache.clear()
    cache.set(key, apiKey ?? null)
    if (apiKey) noteUse(apiKey)
    return apiKey
  }

  const insert = async (name: string, scope: KeyScope, source: ApiKeyRow['source'], key: string, id = newId()) => {
    const row = {
      webhook_secret: null,
      id,
      name,
      key_hash: hashKey(key),
      key_prefix: key.slice(0, 10),
      scope,
      source,
      created_at: clock.now(),
      revoked_at: null,
      last_used_at: null,
    }
    await store.keys.insert(row)
    return toApiKey(row)
  }

  /** Creates a key; the returned `key` is the only time its plaintext exists. */
  const create = async (name: string, scope: KeyScope = 'user'): Promise<{ key: string; apiKey: ApiKey }> => {
    const trimmed = name.trim()
    if (trimmed === '' || trimmed.length > 100) {
      throw new FluxhostError('VALIDATION_FAILED', {
        message: 'name must be 1–100 characters',
        issues: [{ loc: ['body', 'name'], msg: 'String should have 1 to 100 characters', type: 'string_length' }],
      })
    }
    const key = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`
    cache.clear()
    return { key, apiKey: await insert(trimmed, scope, 'db', key) }
  }

  return {
    /** Forgets every cached key: a key's limits changed (whether it is limited is cached with it). */
    invalidate(): void {
      cache.clear()
    },

    /** The key named by a request, if it exists and is not revoked. */
    async authenticate(key: string | undefined): Promise<ApiKey | undefined> {
      const hit = cached(key)
      if (hit !== undefined) return hit ?? undefined
      return load(key!)
    },

    /** `authenticate` without waiting, when the verdict is cached (the common case). */
    cached,

    create,

    async list(): Promise<ApiKey[]> {
      return (await store.keys.list()).filter((row) => row.source !== 'local').map(toApiKey)
    },

    /**
     * Revokes a key and, in the same transaction, cancels its unfinished jobs (queued and
     * running: none of them is charged). Refuses (LAST_ADMIN_KEY) to revoke the last active
     * admin key, unless this process has keys from FLUXHOST_API_KEYS (admin keys that only the
     * configuration can remove). Revoking a revoked key changes nothing but cancels any job
     * of it that is still unfinished (one created while the revocation committed).
     */
    async revoke(id: string): Promise<{ apiKey: ApiKey; canceledJobs: Job[] }> {
      const { row, canceled } = await store.transaction(async (tx) => {
        const admins = await tx.keys.lockActiveAdmins()
        const existing = await tx.keys.get(id)
        if (!existing || existing.source === 'local') throw new FluxhostError('KEY_NOT_FOUND')
        if (existing.source === 'env') {
          throw new FluxhostError('FORBIDDEN', {
            message: 'This key comes from FLUXHOST_API_KEYS; remove it there and restart.',
          })
        }
        if (admins.includes(id) && staticKeys.length === 0 && admins.length === 1) {
          throw new FluxhostError('LAST_ADMIN_KEY', {
            message:
              `"${existing.name}" is the last active admin key: revoking it would leave nobody able to ` +
              'manage keys. Create another admin key first, then revoke this one.',
          })
        }
        const now = clock.now()
        // The jobs first, then the key's row: a job's end locks its row, then (its trigger) the
        // key's, so this order waits for a finishing job instead of deadlocking with it.
        const canceled = await tx.jobs.cancelAllOfKey(id, now, REVOKED_MESSAGE)
        const revoked = await tx.keys.revoke(id, now)
        return { row: revoked ?? existing, canceled }
      })
      cache.clear()
      for (const job of canceled) {
        // As a cancel of one job: the worker running it (if any) aborts, waiters and webhooks see it.
        events.publish({ type: 'cancel', jobId: job.id })
        events.publish({ type: 'state', jobId: job.id, state: 'canceled' })
      }
      return { apiKey: toApiKey(row), canceledJobs: canceled }
    },

    /**
     * Gives every key in FLUXHOST_API_KEYS a row (an admin key named `FLUXHOST_API_KEYS[i]`),
     * so its jobs and charges have an owner. Removing a key from the list needs no change
     * here: `authenticate` accepts env keys only when this process was configured with them.
     */
    async syncStaticKeys(): Promise<void> {
      await store.transaction(async (tx) => {
        for (const [i, key] of staticKeys.entries()) {
          const id = `env_${hashKey(key).slice(0, 16)}`
          const existing = await tx.keys.get(id)
          if (existing) {
            if (existing.revoked_at !== null) await tx.keys.unrevoke(id)
            continue
          }
          // Processes starting at once on shared records race to this insert: the loser's is a no-op.
          await tx.keys.insertIfAbsent({
            id,
            name: `FLUXHOST_API_KEYS[${i}]`,
            key_hash: hashKey(key),
            key_prefix: key.slice(0, Math.min(6, Math.floor(key.length / 2))),
            scope: 'admin',
            source: 'env',
            created_at: clock.now(),
            revoked_at: null,
            last_used_at: null,
          })
        }
      })
    },

    /**
     * The key's Standard Webhooks secret (`whsec_` + 32 random bytes, base64), which signs
     * the webhooks of its jobs. Made on first use; `rotate` replaces it (deliveries from then
     * on are signed with the new one). Kept sealed under the server secret (store.keys); one
     * that no longer opens (the server secret changed) throws until it is rotated.
     */
    async webhookSecret(id: string, options: { rotate?: boolean } = {}): Promise<string> {
      if (!options.rotate) {
        const existing = await store.keys.webhookSecret(id)
        if (existing === undefined) throw new FluxhostError('KEY_NOT_FOUND')
        if (existing) return existing
      } else if (!(await store.keys.get(id))) throw new FluxhostError('KEY_NOT_FOUND')
      const fresh = `whsec_${randomBytes(32).toString('base64')}`
      const secret = await store.keys.setWebhookSecret(id, fresh, !options.rotate)
      if (!secret) throw new FluxhostError('KEY_NOT_FOUND')
      return secret
    },

    /** When no key exists at all, creates an admin key and returns it (to print once). */
    async ensureBootstrapKey(): Promise<string | undefined> {
      if (staticKeys.length > 0) return undefined
      // Processes starting at once on empty shared records all get here: the id follows from
      // how many keys were ever made (read in the same snapshot as "none is active"), so
      // exactly one of their inserts wins and prints a key.
      const { active, total } = await store.keys.counts('db')
      if (active > 0) return undefined
      const key = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`
      const inserted = await store.keys.insertIfAbsent({
        id: `key_bootstrap_${total}`,
        name: 'default',
        key_hash: hashKey(key),
        key_prefix: key.slice(0, 10),
        scope: 'admin',
        source: 'db',
        created_at: clock.now(),
        revoked_at: null,
        last_used_at: null,
        webhook_secret: null,
      })
      cache.clear()
      return inserted ? key : undefined
    },

    /** The owner of jobs made by the in-process CLI; its key is random and never shown. */
    async localKey(): Promise<ApiKey> {
      const existing = (await store.keys.list()).find((row) => row.source === 'local')
      if (existing) return toApiKey(existing)
      return insert(
        'local CLI',
        'admin',
        'local',
        `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`,
        LOCAL_KEY_ID,
      )
    },
  }
}

export type KeyService = ReturnType<typeof createKeyService>
