import path from 'node:path'
import type { Logger } from 'pino'
import { makePrivateDir } from '../blobs/fs/private-dir.js'
import type { Config } from '../config/config.js'
import { createLocalJobEvents, type JobEvents } from '../queue/job-events.js'
import { createSharedJobEvents } from '../queue/shared-events.js'
import { openPostgresStore, openSqliteStore } from '../store/open-store.js'
import type { Store } from '../store/store.js'

/** The records and the events among the processes that share them. */
export interface Records {
  store: Store
  events: JobEvents
  close(): Promise<void>
}

/**
 * Opens the records (SQLite in the data dir, or PostgreSQL), migrated, after making the data
 * dir private (0700). On PostgreSQL this process always tells the others its job events
 * (NOTIFY through the pool works behind any pooler); it hears theirs (one LISTEN connection)
 * when `listen` is asked and FLUXHOST_DATABASE_LISTEN allows it. A CLI command tells but does
 * not listen.
 */
export async function openRecords(config: Config, options: { logger: Logger; listen: boolean }): Promise<Records> {
  const { logger } = options
  // The data dir holds the records, the images and the server secret: this user's alone (each
  // makes its own files 0600: store/sqlite.ts, blobs/fs/fs-blob-store.ts, blobs/server-secret.ts).
  if (makePrivateDir(config.dataDir).length > 0) {
    logger.warn({ dataDir: config.dataDir }, 'data-dir:not-private (owned by another user: cannot make it 0700)')
  }
  const { store, migrations } = config.database
    ? await openPostgresStore(config.database.url, {
        ...(config.database.schema ? { schema: config.database.schema } : {}),
        onChannelStatus: ({ listening, error }) =>
          listening
            ? logger.info('events:listening-again')
            : logger.warn({ err: error }, 'events:not-listening (reconnecting; idle workers poll meanwhile)'),
      })
    : await openSqliteStore(path.join(config.dataDir, 'fluxhost.db'))
  if (migrations.length > 0) logger.info({ migrations }, 'store:migrated')
  try {
    const shared = store.channel ? createSharedJobEvents(store.channel, logger) : undefined
    if (shared && options.listen && config.database?.listen !== false) await shared.start()
    return {
      store,
      events: shared ?? createLocalJobEvents(),
      async close() {
        await shared?.flush()
        await store.close()
      },
    }
  } catch (error) {
    await store.close()
    throw error
  }
}
