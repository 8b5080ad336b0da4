import type { Kysely, Selectable } from 'kysely'
import type { Database, IdempotencyKeysTable } from './schema.js'

export type IdempotencyRow = Selectable<IdempotencyKeysTable>

export type Claim =
  /** The key is new (or expired, or its holder died): this request now holds it. */
  | { kind: 'acquired' }
  /** The key was used with a different request. */
  | { kind: 'mismatch' }
  /** The first request with this key is still being answered. */
  | { kind: 'in_flight' }
  /** The first request was answered: replay it. */
  | { kind: 'done'; row: IdempotencyRow }

export function createIdempotencyRepository(db: Kysely<Database>) {
  return {
    /** Takes the key for one request, or says why not. Call inside a transaction. */
    async claim(apiKeyId: string, key: string, fingerprint: string, now: number, lockedUntil: number, expiresAt: number): Promise<Claim> {
      const row = await db.selectFrom('idempotency_keys').selectAll().where('api_key_id', '=', apiKeyId).where('key', '=', key).executeTakeFirst()
      if (row && Number(row.expires_at) > now) {
        if (row.fingerprint !== fingerprint) return { kind: 'mismatch' }
        if (row.state === 'done') return { kind: 'done', row }
        if (row.locked_until !== null && Number(row.locked_until) > now) return { kind: 'in_flight' }
      }
      await db
        .insertInto('idempotency_keys')
        .values({ api_key_id: apiKeyId, key, fingerprint, state: 'in_flight', locked_until: lockedUntil, created_at: now, expires_at: expiresAt })
        .onConflict((oc) =>
          oc.columns(['api_key_id', 'key']).doUpdateSet({
            fingerprint,
            state: 'in_flight',
            locked_until: lockedUntil,
            status: null,
            body: null,
            content_type: null,
            job_id: null,
            created_at: now,
            expires_at: expiresAt,
          }),
        )
        .execute()
      return { kind: 'acquired' }
    },

    /** Stores the answer (or the job to re-render it from) for replays. */
    async complete(apiKeyId: string, key: string, answer: { status: number; body: string | null; contentType: string | null; jobId: string | null }): Promise<void> {
      await db
        .updateTable('idempotency_keys')
        .set({ state: 'done', locked_until: null, status: answer.status, body: answer.body, content_type: answer.contentType, job_id: answer.jobId })
        .where('api_key_id', '=', apiKeyId)
        .where('key', '=', key)
        .where('state', '=', 'in_flight')
        .execute()
    },

    /** Forgets a key whose request failed in a way worth retrying (5xx, 429). */
    async release(apiKeyId: string, key: string): Promise<void> {
      await db.deleteFrom('idempotency_keys').where('api_key_id', '=', apiKeyId).where('key', '=', key).where('state', '=', 'in_flight').execute()
    },

    async deleteExpired(now: number): Promise<number> {
      const result = await db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}

export type IdempotencyRepository = ReturnType<typeof createIdempotencyRepository>
