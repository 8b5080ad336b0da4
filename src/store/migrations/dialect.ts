import { type Kysely, PostgresAdapter } from 'kysely'

// (The file name is Kysely's word for the SQL engine, kept because shipped migrations import
// it; elsewhere in fluxhost "dialect" means an API shape, and the SQL engine is the store's
// `kind`.)

/**
 * Whether a migration runs on PostgreSQL. Tables and indexes are written once with Kysely's
 * schema builder; only triggers differ (SQLite's `create trigger … begin … end` against
 * PostgreSQL's trigger functions), so migrations branch on this for those alone.
 */
export function isPostgres(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter
}
