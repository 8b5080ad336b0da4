import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { type Channel, MAX_MESSAGE_BYTES } from '../store/channel.js'
import { createLocalJobEvents, type JobEvent, type JobEvents } from './job-events.js'

export interface SharedJobEvents extends JobEvents {
  /** Starts hearing the other processes; resolves once listening. */
  start(): Promise<void>
  /** Sends what is still waiting to go out (before the records close). */
  flush(): Promise<void>
}

/** Progress alone is sent at most this often: listeners want the latest, not every step. */
const PROGRESS_FLUSH_MS = 50

interface Wire {
  /** The sending process, which has delivered the events to its own listeners already. */
  from: string
  events: JobEvent[]
}

/**
 * Job events across every process of the records' channel (PostgreSQL LISTEN/NOTIFY): each
 * event reaches this process's listeners at once and the others' one message later. Events
 * of one turn of the event loop go out in one message; progress-only batches wait up to
 * 50 ms and keep each job's latest. The channel is at most once, which costs a listener at
 * most its poll interval: nothing depends on an event alone.
 */
export function createSharedJobEvents(channel: Channel, logger: Logger): SharedJobEvents {
  const local = createLocalJobEvents()
  const self = randomUUID()
  let pending: JobEvent[] = []
  let timer: NodeJS.Timeout | undefined
  let immediate: NodeJS.Immediate | undefined

  const sending = new Set<Promise<void>>()
  const flush = () => {
    clearTimeout(timer)
    if (immediate) clearImmediate(immediate)
    timer = immediate = undefined
    // A job's progress events before its latest are stale: send the latest only.
    const latest = new Map<string, number>()
    for (const [i, event] of pending.entries()) if (event.type === 'progress') latest.set(event.jobId, i)
    const events = pending.filter((event, i) => event.type !== 'progress' || latest.get(event.jobId) === i)
    pending = []
    for (const message of messages(self, events)) {
      const sent = channel.send(message).catch((error: unknown) => logger.warn({ err: error }, 'events:send-failed'))
      sending.add(sent)
      void sent.finally(() => sending.delete(sent))
    }
  }

  return {
    publish(event) {
      local.publish(event)
      pending.push(event)
      if (event.type !== 'progress') immediate ??= setImmediate(flush)
      else timer ??= setTimeout(flush, PROGRESS_FLUSH_MS)
    },
    subscribe: local.subscribe,
    subscribeAll: local.subscribeAll,
    async flush() {
      flush()
      await Promise.all(sending)
    },
    start: () =>
      channel.listen((text) => {
        let wire: Wire
        try {
          wire = JSON.parse(text) as Wire
        } catch {
          return
        }
        if (wire.from === self || !Array.isArray(wire.events)) return
        for (const event of wire.events) local.publish(event)
      }),
  }
}

/** The events as few messages as fit PostgreSQL's payload limit. */
function messages(from: string, events: JobEvent[]): string[] {
  const out: string[] = []
  let batch: string[] = []
  let bytes = 0
  const envelope = Buffer.byteLength(JSON.stringify({ from, events: [] }))
  for (const event of events) {
    const text = JSON.stringify(event)
    const size = Buffer.byteLength(text) + 1
    if (batch.length > 0 && envelope + bytes + size > MAX_MESSAGE_BYTES) {
      out.push(`{"from":${JSON.stringify(from)},"events":[${batch.join(',')}]}`)
      batch = []
      bytes = 0
    }
    batch.push(text)
    bytes += size
  }
  if (batch.length > 0) out.push(`{"from":${JSON.stringify(from)},"events":[${batch.join(',')}]}`)
  return out
}
