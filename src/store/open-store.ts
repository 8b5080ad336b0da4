import { migrateToLatest } from './migrate.js'
import { openSqlite } from './sqlite.js'
import { createStore, type Store } from './store.js'

/** Opens the SQLite records at `file`, applies pending migrations, and returns the store. */
export async function openSqliteStore(file: string): Promise<{ store: Store; migrations: string[] }> {
  const { db, dataVersion } = openSqlite(file)
  const migrations = await migrateToLatest(db)
  return { store: createStore(db, { kind: 'sqlite', dataVersion }), migrations }
}
