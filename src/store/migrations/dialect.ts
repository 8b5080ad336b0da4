import { type Kysely, PostgresAdapter } from 'kysely'

/**
 * Whether a migration runs on PostgreSQL. Tables and indexes are written once with Kysely's
 * schema builder; only triggers differ (SQLite's `create trigger … begin … end` against
 * PostgreSQL's trigger functions), so migrations branch on this for those alone.
 */
export function isPostgres(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter
}
