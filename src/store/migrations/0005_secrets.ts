import type { Kysely } from 'kysely'

// Append-only: once shipped, never edit this file; add 0006_… instead.
//
// Secrets every process of a deployment must share, kept in the records: with PostgreSQL the
// file-URL signing key lives here (made once, by whichever process starts first), so every
// API and worker process signs and checks the same URLs without configuration.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('secrets')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
}
