import { type Kysely, sql } from 'kysely'

// Append-only: once shipped, never edit this file; add 0009_… instead.
//
// Retention (FLUXHOST_RETENTION): a finished job older than the retention period loses its
// images and has its prompt and inputs scrubbed; `pruned_at` says when. The row stays, as a
// deleted job's does: its charge refers to it and usage must not change.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('pruned_at', 'bigint').execute()
  // The sweep takes the oldest unpruned jobs first, batch by batch: this index holds only
  // the jobs it has still to look at, so a batch reads its rows and nothing else.
  await db.schema
    .createIndex('jobs_unpruned')
    .on('jobs')
    .columns(['finished_at', 'id'])
    .where(sql.ref('pruned_at'), 'is', null)
    .execute()
  // Finished webhook deliveries are removed (with their attempts) after the same period.
  await db.schema.createIndex('deliveries_finished').on('webhook_deliveries').column('finished_at').execute()
}
