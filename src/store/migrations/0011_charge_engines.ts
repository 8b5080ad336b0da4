import type { Kysely } from 'kysely'

// Append-only: once shipped, never edit this file; add 0012_… instead.
//
// Each charge names the engine that made the images and what its provider charged fluxhost
// (micro-dollars; null when unknown, and for charges from before), so usage can show the
// margin per job and per provider. Two statements: SQLite adds one column per ALTER.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('charges').addColumn('engine', 'text').execute()
  await db.schema.alterTable('charges').addColumn('upstream_micros', 'bigint').execute()
}
