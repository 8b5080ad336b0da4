import { Migrator, type Kysely, type Migration, type MigrationResultSet } from 'kysely'
import * as m0001 from './migrations/0001_init.js'
import * as m0002 from './migrations/0002_queue_depth.js'
import * as m0003 from './migrations/0003_webhooks.js'
import * as m0004 from './migrations/0004_idempotency.js'
import * as m0005 from './migrations/0005_secrets.js'
import * as m0006 from './migrations/0006_job_deletion.js'

/** Numbered, append-only. Kysely's Migrator takes its lock, so concurrent starts are safe. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_queue_depth': m0002,
  '0003_webhooks': m0003,
  '0004_idempotency': m0004,
  '0005_secrets': m0005,
  '0006_job_deletion': m0006,
}

// Kysely<any>: migrations see the schema as it was then, not as schema.ts describes it now.
// `schema` (PostgreSQL): keep Kysely's own migration tables in the records' schema, so
// several fluxhosts (or test files) can share one database in schemas of their own.
export async function migrateToLatest(db: Kysely<any>, schema?: string): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => MIGRATIONS },
    ...(schema ? { migrationTableSchema: schema } : {}),
  })
  const result: MigrationResultSet = await migrator.migrateToLatest()
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${String(result.error)}`, {
      cause: result.error,
    })
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
