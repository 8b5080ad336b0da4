import { createHash } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import pg from 'pg'
import { createBackoff } from '../domain/backoff.js'
import type { Channel } from './channel.js'
import type { Database } from './schema.js'

export interface PostgresChannelOptions {
  db: Kysely<Database>
  url: string
  /** Told when the listening connection drops and when it is back. */
  onStatus?(status: { listening: boolean; error?: Error }): void
}

/**
 * LISTEN/NOTIFY on one channel per records schema (`fluxhost:<schema>`), so fluxhosts in
 * other schemas of one database do not hear each other. One connection per process listens,
 * outside the pool, and reconnects with backoff after the server or the network drops it.
 */
export function createPostgresChannel(options: PostgresChannelOptions): Channel {
  let name: Promise<string> | undefined
  // The schema as the records see it: the configured one, else the connection's own.
  const channelName = () =>
    (name ??= sql<{ schema: string }>`select current_schema() as schema`.execute(options.db).then(
      ({ rows }) => {
        const full = `fluxhost:${rows[0]?.schema ?? 'public'}`
        // Channel names are identifiers: 63 bytes at most.
        return Buffer.byteLength(full) <= 63
          ? full
          : `fluxhost:${createHash('sha256').update(full).digest('hex').slice(0, 40)}`
      },
      (error: unknown) => {
        name = undefined
        throw error
      },
    ))

  let client: pg.Client | undefined
  let closed = false
  let retry: NodeJS.Timeout | undefined
  const backoff = createBackoff({ initialMs: 250, factor: 2, maxMs: 5_000 })

  const connect = async (onMessage: (message: string) => void): Promise<void> => {
    const channel = await channelName()
    const next = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      application_name: 'fluxhost-listen',
    })
    const dropped = (error?: Error) => {
      if (client !== next) return
      client = undefined
      next.removeAllListeners('end')
      void next.end().catch(() => undefined)
      options.onStatus?.({ listening: false, ...(error ? { error } : {}) })
      schedule(onMessage)
    }
    next.on('error', dropped)
    next.on('end', () => dropped())
    next.on('notification', (notification) => {
      if (notification.channel === channel && notification.payload !== undefined) onMessage(notification.payload)
    })
    try {
      await next.connect()
      await next.query(`listen ${pg.escapeIdentifier(channel)}`)
    } catch (error) {
      next.removeAllListeners()
      next.on('error', () => undefined)
      await next.end().catch(() => undefined)
      throw error
    }
    if (closed) {
      await next.end().catch(() => undefined)
      return
    }
    client = next
    backoff.reset()
  }

  const schedule = (onMessage: (message: string) => void) => {
    if (closed || retry) return
    retry = setTimeout(() => {
      retry = undefined
      connect(onMessage).then(
        () => options.onStatus?.({ listening: true }),
        (error: unknown) => {
          options.onStatus?.({ listening: false, error: error as Error })
          schedule(onMessage)
        },
      )
    }, backoff.next())
    retry.unref()
  }

  return {
    async send(message) {
      await sql`select pg_notify(${await channelName()}, ${message})`.execute(options.db)
    },

    listen: (onMessage) => connect(onMessage),

    async close() {
      closed = true
      clearTimeout(retry)
      const current = client
      client = undefined
      await current?.end().catch(() => undefined)
    },
  }
}
