import { sql, type Kysely } from 'kysely'

// Append-only: once shipped, never edit this file; add 0013_… instead.
//
// A job its owner marked as a favourite (the playground's gallery, PATCH /api/jobs/:id) carries
// when; null: not a favourite. The partial index serves a key's favourites newest first without
// reading its other jobs.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('favourite_at', 'bigint').execute()
  await db.schema
    .createIndex('jobs_favourites_by_key')
    .on('jobs')
    .columns(['api_key_id', 'id'])
    .where(sql.ref('favourite_at'), 'is not', null)
    .execute()
}
