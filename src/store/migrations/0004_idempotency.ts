import type { Kysely } from 'kysely'

// Append-only: once shipped, never edit this file; add 0005_… instead.
//
// Idempotency keys (draft-ietf-httpapi-idempotency-key-header): one row per API key and
// Idempotency-Key, holding a fingerprint of the request and, once it is answered, the
// answer to replay (or the job to re-render it from).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('api_key_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    // While in flight: when the request holding it is presumed dead (a crashed server).
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
}
