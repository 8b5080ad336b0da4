import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, type SqliteDatabase, SqliteDialect, type SqliteStatement } from 'kysely'
import type { Database } from './schema.js'

export interface SqliteHandle {
  db: Kysely<Database>
  /** Changes whenever another connection (another process) commits; see `Store.dataVersion`. */
  dataVersion(): number
}

/**
 * Opens (creating if needed) the SQLite database in WAL mode, readable by this user only:
 * the file is made 0600 before SQLite opens it, and SQLite gives the -wal and -shm files it
 * makes later the database file's mode; ones left by an earlier run are set to 0600 too.
 */
export function openSqlite(file: string): SqliteHandle {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  fs.closeSync(fs.openSync(file, 'a', PRIVATE))
  for (const each of [file, `${file}-wal`, `${file}-shm`]) makePrivate(each)
  const sqlite = new BetterSqlite3(file)
  // WAL lets the API read while a worker writes; NORMAL sync is durable across process
  // crashes (only an OS crash can lose the last transactions), which is what a job queue needs.
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('foreign_keys = ON')
  // A second process on the same file (the CLI beside a server) waits instead of failing.
  sqlite.pragma('busy_timeout = 5000')
  const version = sqlite.prepare('PRAGMA data_version').pluck()
  // Read once per turn of the event loop: every request handled in the same turn shares
  // the answer. (Each read starts an SQLite read transaction, which costs microseconds.)
  let current: number | undefined
  const forget = () => {
    current = undefined
  }
  return {
    db: new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) }),
    dataVersion() {
      if (current === undefined) {
        current = version.get() as number
        setImmediate(forget)
      }
      return current
    },
  }
}

const PRIVATE = 0o600

/** chmod 0600, when the file exists and is not already; a file of another user's is left as it is. */
function makePrivate(file: string): void {
  try {
    if ((fs.statSync(file).mode & 0o777) !== PRIVATE) fs.chmodSync(file, PRIVATE)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOENT' && code !== 'EPERM') throw error
  }
}

const MAX_CACHED_STATEMENTS = 256

/**
 * Kysely prepares every query anew, and SQLite's prepare costs as much as running a small
 * query. Our queries are a fixed set of SQL strings (values are always parameters), so
 * reusing prepared statements is safe; the cache is bounded in case one is not.
 */
function withStatementCache(sqlite: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>()
  return {
    close: () => sqlite.close(),
    prepare(sql) {
      let statement = cache.get(sql)
      if (!statement) {
        if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear()
        statement = sqlite.prepare(sql) as unknown as SqliteStatement
        cache.set(sql, statement)
      }
      return statement
    },
  }
}
