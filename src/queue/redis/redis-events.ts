import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { createLocalJobEvents, type JobEvent, type JobEventListener, type JobEvents } from '../job-events.js'

export interface RedisJobEvents extends JobEvents {
  /** Tells every process that a job was enqueued (their idle workers look at once). */
  announceEnqueued(): void
  /** Called when another process announced an enqueue. */
  onEnqueued(listener: () => void): () => void
  /** Resolves once the subscription is live (events published after it are seen). */
  ready(): Promise<void>
  close(): Promise<void>
}

type Wire = { from: string; event: JobEvent } | { from: string; enqueued: true }

/**
 * Job events across processes over Redis pub/sub, on one channel (`<prefix>events`): every
 * event is delivered to this process's listeners at once and published for the others,
 * which deliver it to theirs. A cancel sent to any API process reaches the worker running
 * the job; progress reaches server-sent event streams anywhere. Pub/sub is at-most-once:
 * a process that is disconnected misses events, which is why nothing depends on them alone
 * (the records stay the truth: leases, polls of the job).
 */
export function createRedisJobEvents(options: { url: string; prefix: string; logger: Logger }): RedisJobEvents {
  const local = createLocalJobEvents()
  const self = randomUUID()
  const channel = `${options.prefix}events`
  // Events are at most once: while Redis is away, publishing fails fast (nothing piles up in
  // memory) and the records carry the news; both clients keep reconnecting.
  const pub = new Redis(options.url, { enableOfflineQueue: false, connectTimeout: 10_000 })
  const sub = new Redis(options.url, { maxRetriesPerRequest: null, connectTimeout: 10_000 })
  const enqueuedListeners = new Set<() => void>()
  const ownStateListeners = new Set<JobEventListener>()
  for (const client of [pub, sub]) client.on('error', (error: Error) => options.logger.warn({ err: error }, 'redis:error'))

  const subscribed = sub.subscribe(channel)
  sub.on('message', (from: string, text: string) => {
    if (from !== channel) return
    let wire: Wire
    try {
      wire = JSON.parse(text) as Wire
    } catch {
      return
    }
    if (wire.from === self) return
    if ('enqueued' in wire) for (const listener of [...enqueuedListeners]) listener()
    else local.publish(wire.event)
  })

  const send = (wire: Wire) => {
    pub.publish(channel, JSON.stringify(wire)).catch((error: unknown) => options.logger.warn({ err: error }, 'redis:publish-failed'))
  }

  return {
    publish(event) {
      local.publish(event)
      if (event.type === 'state') for (const listener of [...ownStateListeners]) listener(event)
      send({ from: self, event })
    },
    subscribe: local.subscribe,
    subscribeStates: local.subscribeStates,
    subscribeOwnStates(listener) {
      ownStateListeners.add(listener)
      return () => ownStateListeners.delete(listener)
    },
    subscribeAll: local.subscribeAll,
    announceEnqueued() {
      send({ from: self, enqueued: true })
    },
    onEnqueued(listener) {
      enqueuedListeners.add(listener)
      return () => enqueuedListeners.delete(listener)
    },
    /** Rejects after 15 s without Redis: a process should not start half-connected. */
    async ready() {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis at ${redactedUrl(options.url)} did not answer within 15 s`)), 15_000)
      })
      const connected = new Promise<void>((resolve) => (pub.status === 'ready' ? resolve() : pub.once('ready', () => resolve())))
      try {
        await Promise.race([Promise.all([subscribed, connected]), timeout])
      } catch (error) {
        sub.disconnect()
        pub.disconnect()
        throw error
      } finally {
        clearTimeout(timer)
      }
    },
    async close() {
      const quit = Promise.allSettled([sub.quit(), pub.quit()])
      await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 2_000).unref())])
      sub.disconnect()
      pub.disconnect()
    },
  }
}

function redactedUrl(raw: string): string {
  try {
    const url = new URL(raw)
    if (url.password) url.password = '***'
    return url.toString()
  } catch {
    return 'REDIS_URL'
  }
}
