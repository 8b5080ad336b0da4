import { migrateToLatest } from './migrate.js'
import { openPostgres } from './postgres.js'
import { createPostgresChannel } from './postgres-channel.js'
import { openSqlite } from './sqlite.js'
import { createStore, type Store } from './store.js'

/** Opens the SQLite records at `file`, applies pending migrations, and returns the store. */
export async function openSqliteStore(file: string): Promise<{ store: Store; migrations: string[] }> {
  const { db, dataVersion } = openSqlite(file)
  const migrations = await migrateToLatest(db)
  return { store: createStore(db, { kind: 'sqlite', dataVersion }), migrations }
}

export interface PostgresStoreOptions {
  schema?: string
  max?: number
  /** Told when the listening connection drops and comes back. */
  onChannelStatus?(status: { listening: boolean; error?: Error }): void
}

/**
 * Opens the PostgreSQL records at `url` (in `schema`, when given), applies pending
 * migrations under Kysely's advisory lock (many processes may start at once), and returns
 * the store. Its channel can send at once; it listens only once someone starts it.
 */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<{ store: Store; migrations: string[] }> {
  const { db, dataVersion } = openPostgres(url, options)
  try {
    const migrations = await migrateToLatest(db, { schema: options.schema })
    const channel = createPostgresChannel({
      db,
      url,
      ...(options.onChannelStatus ? { onStatus: options.onChannelStatus } : {}),
    })
    return { store: createStore(db, { kind: 'postgres', dataVersion, channel }), migrations }
  } catch (error) {
    await db.destroy()
    throw error
  }
}
