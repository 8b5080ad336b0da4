import type { Kysely } from 'kysely'

// Append-only: once shipped, never edit this file; add 0011_… instead.
//
// Jobs whose synchronous answer never reached the client are left in idempotency_keys for
// the call's retry (src/api/unanswered.ts), found by API key and request fingerprint: a
// lookup every request without an Idempotency-Key on the sync route makes, which without
// this index reads every key the API key holds (kept 24 h).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('idempotency_by_fingerprint')
    .on('idempotency_keys')
    .columns(['api_key_id', 'fingerprint'])
    .execute()
}
