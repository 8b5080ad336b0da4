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
  /** How often the idle listening connection proves it is alive (default 30 s). */
  pingMs?: number
}

/**
 * LISTEN/NOTIFY on one channel per records schema (`fluxhost:<schema>`), so fluxhosts in
 * other schemas of one database do not hear each other. Sending goes through the pool (it
 * works through any pooler); one connection per process listens, outside the pool. That
 * connection reconnects with backoff after the server or the network drops it, and pings
 * while idle, so a connection a NAT or a failover silently cut is noticed within a ping.
 */
export function createPostgresChannel(options: PostgresChannelOptions): Channel {
  const pingMs = options.pingMs ?? 30_000
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

  /** The listening connection, or the one being opened. */
  let client: pg.Client | undefined
  let listening = false
  let closed = false
  let retry: NodeJS.Timeout | undefined
  let ping: NodeJS.Timeout | undefined
  let onMessage: ((message: string) => void) | undefined
  const backoff = createBackoff({ initialMs: 250, factor: 2, maxMs: 5_000 })
  const status = (update: { listening: boolean; error?: Error }) => {
    if (!closed) options.onStatus?.(update)
  }

  const connect = async (): Promise<void> => {
    const channel = await channelName()
    const next = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: 'fluxhost-listen',
    })
    client = next
    const dropped = (error?: Error) => {
      if (client !== next) return
      client = undefined
      listening = false
      clearInterval(ping)
      next.removeAllListeners('end')
      void next.end().catch(() => undefined)
      status({ listening: false, ...(error ? { error } : {}) })
      schedule()
    }
    next.on('error', dropped)
    next.on('end', () => dropped())
    next.on('notification', (notification) => {
      if (notification.channel === channel && notification.payload !== undefined) onMessage?.(notification.payload)
    })
    try {
      await next.connect()
      await next.query(`listen ${pg.escapeIdentifier(channel)}`)
    } catch (error) {
      if (client === next) client = undefined
      next.removeAllListeners()
      next.on('error', () => undefined)
      await next.end().catch(() => undefined)
      throw error
    }
    if (closed || client !== next) {
      await next.end().catch(() => undefined)
      return
    }
    listening = true
    backoff.reset()
    ping = setInterval(() => {
      next.query('select 1').catch((error: unknown) => dropped(error as Error))
    }, pingMs)
    ping.unref()
  }

  const schedule = () => {
    if (closed || retry) return
    retry = setTimeout(() => {
      retry = undefined
      connect().then(
        () => status({ listening: true }),
        (error: unknown) => {
          status({ listening: false, error: error as Error })
          schedule()
        },
      )
    }, backoff.next())
    retry.unref()
  }

  return {
    async send(message) {
      await sql`select pg_notify(${await channelName()}, ${message})`.execute(options.db)
    },

    async listen(handler) {
      if (onMessage) throw new Error('this channel is already listening')
      if (closed) throw new Error('this channel is closed')
      onMessage = handler
      await connect()
    },

    listening: () => listening,

    async close() {
      closed = true
      clearTimeout(retry)
      clearInterval(ping)
      // Also a connection still being opened: it ends when its connect settles.
      const current = client
      client = undefined
      listening = false
      await current?.end().catch(() => undefined)
    },
  }
}
