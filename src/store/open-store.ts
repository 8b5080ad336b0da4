import { migrateToLatest } from './migrate.js'
import { openPostgres } from './postgres.js'
import { openSqlite } from './sqlite.js'
import { createStore, type Store } from './store.js'

/** Opens the SQLite records at `file`, applies pending migrations, and returns the store. */
export async function openSqliteStore(file: string): Promise<{ store: Store; migrations: string[] }> {
  const { db, dataVersion } = openSqlite(file)
  const migrations = await migrateToLatest(db)
  return { store: createStore(db, { kind: 'sqlite', dataVersion }), migrations }
}

/**
 * Opens the PostgreSQL records at `url` (in `schema`, when given), applies pending
 * migrations under Kysely's advisory lock (many processes may start at once), and returns
 * the store.
 */
export async function openPostgresStore(url: string, options: { schema?: string; max?: number } = {}): Promise<{ store: Store; migrations: string[] }> {
  const { db, dataVersion } = openPostgres(url, options)
  try {
    const migrations = await migrateToLatest(db, { schema: options.schema })
    return { store: createStore(db, { kind: 'postgres', dataVersion }), migrations }
  } catch (error) {
    await db.destroy()
    throw error
  }
}
