import type { Kysely } from 'kysely'

// Append-only: once shipped, never edit this file; add 0007_… instead.
//
// A job deleted by its owner (the playground's gallery, DELETE /api/jobs/:id) keeps its row —
// its charge references it, and metering must not change — but disappears from every read,
// and its images are removed.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('deleted_at', 'bigint').execute()
}
