import { sql } from 'kysely'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import type { JobEvent } from '../../src/queue/job-events.js'
import { createJobQueue } from '../../src/queue/job-queue.js'
import { createSharedJobEvents } from '../../src/queue/shared-events.js'
import type { Store } from '../../src/store/store.js'
import { testClock } from '../helpers/server.js'
import { POSTGRES_URL, probePostgres } from '../helpers/services.js'
import { openRawDb, openStoreAt, openTestStore, queuedJob, type TestStore } from '../helpers/store.js'

const postgres = await probePostgres()
const logger = pino({ level: 'silent' })

/** The events `store`'s process hears; `all` resolves once `count` have arrived. */
function hear(store: Store, count: number) {
  const events = createSharedJobEvents(store.channel!, logger)
  const heard: JobEvent[] = []
  const waiters = new Set<() => void>()
  let done!: (events: JobEvent[]) => void
  const all = new Promise<JobEvent[]>((resolve) => (done = resolve))
  events.subscribeAll((event) => {
    heard.push(event)
    if (heard.length === count) done(heard)
    for (const wake of [...waiters]) wake()
  })
  /** Resolves once an event of job `jobId` has been heard. */
  const heardOf = (jobId: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!heard.some((event) => event.jobId === jobId)) return
        waiters.delete(check)
        resolve()
      }
      waiters.add(check)
      check()
    })
  return { events, heard, all, heardOf, started: events.start() }
}

// Job events across processes over PostgreSQL LISTEN/NOTIFY: each store here stands for a
// process (a pool and a listening connection of its own) on the same records.
describe.runIf(postgres.ok)('job events over LISTEN/NOTIFY', () => {
  const opened: (TestStore | Store)[] = []
  afterEach(async () => {
    for (const item of opened.splice(0).reverse()) await ('store' in item ? item.close() : item.close())
  })
  const open = async () => {
    const t = await openTestStore('postgres')
    opened.push(t)
    const other = await openStoreAt(t.at)
    opened.push(other)
    return { t, other }
  }

  it('reach the other processes on the same records, and only them; progress is coalesced to the latest', async () => {
    const { t, other } = await open()
    const elsewhere = await openTestStore('postgres')
    opened.push(elsewhere)
    const sender = hear(t.store, 0)
    const receiver = hear(other, 3)
    const stranger = hear(elsewhere.store, 1)
    await Promise.all([sender.started, receiver.started, stranger.started])
    sender.events.publish({ type: 'state', jobId: 'a', state: 'queued' })
    for (const progress of [0.1, 0.2, 0.3]) sender.events.publish({ type: 'progress', jobId: 'a', progress })
    sender.events.publish({ type: 'cancel', jobId: 'a' })
    // The sender's own listeners heard everything at once; the others hear one message later.
    expect(sender.heard).toHaveLength(5)
    expect(await receiver.all).toEqual([
      { type: 'state', jobId: 'a', state: 'queued' },
      { type: 'progress', jobId: 'a', progress: 0.3 },
      { type: 'cancel', jobId: 'a' },
    ])
    // Another schema (another deployment in the same database) does not hear this one, nor
    // this one it: the stranger's event is committed before a marker on this schema, so a
    // receiver that could hear both would hear it first.
    stranger.events.publish({ type: 'state', jobId: 'z', state: 'queued' })
    await stranger.events.flush()
    sender.events.publish({ type: 'state', jobId: 'marker', state: 'queued' })
    await receiver.heardOf('marker')
    expect(receiver.heard.some((event) => event.jobId === 'z')).toBe(false)
    expect(stranger.heard.map((event) => event.jobId)).toEqual(['z'])
  })

  it('split a burst larger than a NOTIFY payload into several messages, none lost', async () => {
    const { t, other } = await open()
    const sender = hear(t.store, 0)
    const receiver = hear(other, 500)
    await Promise.all([sender.started, receiver.started])
    for (let i = 0; i < 500; i++)
      sender.events.publish({
        type: 'state',
        jobId: `job-with-a-long-id-${String(i).padStart(40, '0')}`,
        state: 'queued',
      })
    expect(new Set((await receiver.all).map((event) => event.jobId)).size).toBe(500)
  })

  it('keep arriving after the listening connection is killed: it reconnects by itself', async () => {
    const t = await openTestStore('postgres')
    opened.push(t)
    const statuses: boolean[] = []
    let back!: () => void
    const reconnected = new Promise<void>((resolve) => (back = resolve))
    const other = await openStoreAt(t.at, {
      onChannelStatus: ({ listening }) => {
        statuses.push(listening)
        if (listening) back()
      },
    })
    opened.push(other)
    const sender = hear(t.store, 0)
    const receiver = hear(other, 2)
    await Promise.all([sender.started, receiver.started])
    sender.events.publish({ type: 'state', jobId: 'before', state: 'queued' })
    await new Promise<void>((resolve) => {
      const check = () => (receiver.heard.length === 1 ? resolve() : setImmediate(check))
      check()
    })
    // What a restarted server or a dropped network does to the listening connection.
    const raw = openRawDb({ kind: 'postgres', url: POSTGRES_URL })
    try {
      // The listening connections of this test's schema (their last statement names it).
      const schema = (t.at as { schema: string }).schema
      const { rows } = await sql<{ killed: boolean }>`
        select pg_terminate_backend(pid) as killed from pg_stat_activity
        where application_name = 'fluxhost-listen' and query like ${`listen %${schema}%`}`.execute(raw)
      expect(rows.length).toBeGreaterThan(0)
    } finally {
      await raw.destroy()
    }
    await reconnected
    expect(statuses).toEqual([false, true])
    sender.events.publish({ type: 'state', jobId: 'after', state: 'queued' })
    expect((await receiver.all).map((event) => event.jobId)).toEqual(['before', 'after'])
  })

  it('wake an idle worker in another process at once when a job is queued there', async () => {
    const { t, other } = await open()
    const clock = testClock()
    const api = hear(t.store, 0)
    const workerEvents = createSharedJobEvents(other.channel!, logger)
    await Promise.all([api.started, workerEvents.start()])
    const queue = createJobQueue({ store: other, events: workerEvents, clock, leaseMs: 10_000, maxAttempts: 3 })
    // Far longer than the test's timeout: only the wake-up can end this wait in time.
    // The job is due in an hour, so the wait's own timer cannot end it either.
    await t.store.jobs.insert(queuedJob('over-the-wire', { createdAt: new Date(clock.now() + 3_600_000) }))
    const waiting = queue.waitForWork(new AbortController().signal, { maxWaitMs: 600_000 })
    api.events.publish({ type: 'state', jobId: 'over-the-wire', state: 'queued' })
    await waiting
  })

  it('are sent by a process that does not listen (the CLI), before its records close', async () => {
    const { t, other } = await open()
    const worker = hear(other, 1)
    await worker.started
    // What `fluxhost jobs cancel` does: publish, then close the records at once.
    const cli = createSharedJobEvents(t.store.channel!, logger)
    expect(t.store.channel!.listening()).toBe(false)
    cli.publish({ type: 'cancel', jobId: 'from-the-cli' })
    await cli.flush()
    expect(await worker.all).toEqual([{ type: 'cancel', jobId: 'from-the-cli' }])
  })

  it('stop reconnecting once closed', async () => {
    const t = await openTestStore('postgres')
    opened.push(t)
    const statuses: boolean[] = []
    const other = await openStoreAt(t.at, { onChannelStatus: ({ listening }) => statuses.push(listening) })
    const listener = hear(other, 0)
    await listener.started
    expect(other.channel!.listening()).toBe(true)
    await other.close()
    expect(other.channel!.listening()).toBe(false)
    // Closed while listening: no drop is reported, and no listening connection is left.
    const raw = openRawDb({ kind: 'postgres', url: POSTGRES_URL })
    try {
      const schema = (t.at as { schema: string }).schema
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where application_name = 'fluxhost-listen' and query like ${`listen %${schema}%`}`.execute(raw)
      expect(rows[0]!.n).toBe(0)
    } finally {
      await raw.destroy()
    }
    expect(statuses).toEqual([])
  })
})
