import {
  type DatabaseIntrospector,
  type Kysely,
  type Migration,
  type MigrationResultSet,
  Migrator,
  sql,
  type TableMetadata,
} from 'kysely'
import * as m0001 from './migrations/0001_init.js'
import * as m0002 from './migrations/0002_queue_depth.js'
import * as m0003 from './migrations/0003_webhooks.js'
import * as m0004 from './migrations/0004_idempotency.js'
import * as m0005 from './migrations/0005_secrets.js'
import * as m0006 from './migrations/0006_job_deletion.js'
import * as m0007 from './migrations/0007_amend_shipped.js'
import * as m0008 from './migrations/0008_retention.js'
import * as m0009 from './migrations/0009_key_limits.js'
import * as m0010 from './migrations/0010_unanswered_jobs.js'
import * as m0011 from './migrations/0011_charge_engines.js'
import * as m0012 from './migrations/0012_job_favourites.js'

/** Numbered, append-only. Kysely's Migrator takes its lock, so concurrent starts are safe. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_queue_depth': m0002,
  '0003_webhooks': m0003,
  '0004_idempotency': m0004,
  '0005_secrets': m0005,
  '0006_job_deletion': m0006,
  '0007_amend_shipped': m0007,
  '0008_retention': m0008,
  '0009_key_limits': m0009,
  '0010_unanswered_jobs': m0010,
  '0011_charge_engines': m0011,
  '0012_job_favourites': m0012,
}

// Kysely<any>: migrations see the schema as it was then, not as schema.ts describes it now.
// `postgres.schema`: keep Kysely's own migration tables in the records' schema, so several
// fluxhosts (or test files) can share one database in schemas of their own.
// biome-ignore lint/suspicious/noExplicitAny: migrations see the schema as it was then, not as schema.ts has it
export async function migrateToLatest(
  db: Kysely<any>,
  postgres?: { schema?: string },
  /** The migrations to apply (all of them; a test gives a history that once shipped). */
  migrations: Record<string, Migration> = MIGRATIONS,
): Promise<string[]> {
  const schema = postgres?.schema
  const migrator = new Migrator({
    db: postgres ? withOwnSchemaCatalog(db, schema) : db,
    provider: { getMigrations: async () => migrations },
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

/**
 * `db` as the Migrator sees it, with an introspector that reads only our own schema.
 * The Migrator asks "does kysely_migration exist?" through `getTables()`, and Kysely's
 * PostgreSQL introspector answers by reading every table of the database with
 * `has_schema_privilege(nspname)` per row: when another schema is dropped during that read
 * (another fluxhost or test file sharing the database) it fails with 3F000 "schema does not
 * exist", and so would our start. Without `schema` (the search_path's first schema) it also
 * found migration tables of any schema. Here: table names of one schema, no functions on
 * other schemas' names. Columns are not listed: the Migrator only needs names.
 */
// biome-ignore lint/suspicious/noExplicitAny: as migrateToLatest's
function withOwnSchemaCatalog(db: Kysely<any>, schema: string | undefined): Kysely<any> {
  const introspection: DatabaseIntrospector = {
    getSchemas: () => db.introspection.getSchemas(),
    async getTables(): Promise<TableMetadata[]> {
      const { rows } = await sql<{ name: string; schema: string; kind: string }>`
        select c.relname as name, ns.nspname as schema, c.relkind as kind
        from pg_catalog.pg_class c join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
        where ns.nspname = coalesce(${schema ?? null}::text, current_schema())
          and c.relkind in ('r', 'v', 'p')`.execute(db)
      return rows.map((r) => ({ name: r.name, schema: r.schema, isView: r.kind === 'v', columns: [] }))
    },
    async getMetadata() {
      return { tables: await this.getTables() }
    },
  }
  return new Proxy(db, {
    get(target, property) {
      if (property === 'introspection') return introspection
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
