import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from './schema.js'

export interface PostgresHandle {
  db: Kysely<Database>
  /** See `Store.dataVersion`: PostgreSQL has no commit counter, so caches live one second. */
  dataVersion(): number
}

/** int8 columns (epoch ms, micro-dollars) are numbers here, well inside 2^53; pg gives strings. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value)
    return pg.types.getTypeParser(oid, format)
  },
}

/**
 * A pool on `url` (postgres://…). `schema`, when given, is the search_path of every
 * connection: tests give each file its own schema in one database.
 */
export function openPostgres(url: string, options: { schema?: string; max?: number } = {}): PostgresHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    // An unreachable database fails a request (or the start) instead of hanging it.
    connectionTimeoutMillis: 10_000,
    types,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  })
  // An idle client's error (the server restarted) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined)
  return {
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
    // Cross-process caches (keys, finished jobs) are dropped each second: a key revoked by
    // another process stops working within a second.
    dataVersion: () => Math.floor(Date.now() / 1000),
  }
}
