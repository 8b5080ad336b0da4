import { Queue, Worker, type Job as BullJob } from 'bullmq'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'

export interface EntriesOptions {
  redisUrl: string
  /** Key prefix (`FLUXHOST_REDIS_PREFIX`); BullMQ's keys are `<prefix><name>:…`. */
  prefix: string
  /** BullMQ queue name. */
  name: string
  /** Whether this process takes entries (it runs workers) or only adds them. */
  consume: boolean
  /** BullMQ lock life: as long as the lease the entry's record is claimed under. */
  lockMs: number
  logger: Logger
}

/**
 * One BullMQ queue of entries that stand for records (jobs, webhook deliveries): each
 * entry's id is its record's id, so adding one twice is harmless; the record stays the
 * truth and the entry only says who should look at it, and when. BullMQ keeps no finished
 * entries (removeOnComplete/Fail): the records keep the history.
 */
export interface Entries {
  readonly queue: Queue
  /** Adds entries gathered over one tick as one addBulk. `priority`: ours (higher first). */
  add(id: string, priority: number, delayMs: number): Promise<void>
  /** The next entry, locked with `token` (the lease owner id), or undefined when none is ready. */
  next(token: string): Promise<BullJob | undefined>
  /** Of these ids, those with no entry. */
  missing(ids: readonly string[]): Promise<string[]>
  /** Runs a step that may find the entry moved by another process meanwhile (a lost lock): the record decides, so that is logged, not thrown. */
  quiet(what: string, id: string, step: () => Promise<unknown>): Promise<void>
  /** When the next delayed entry is due (ms from now; ≤ 0: overdue), or undefined when none is delayed. */
  nextDueInMs(): Promise<number | undefined>
  /**
   * Makes the entry of a record taken back from a dead worker ready now, whatever state it
   * was left in (none, delayed, or active under the dead worker's lock or an expired one).
   */
  readyAgain(id: string, formerOwner: string | null, priority: number): Promise<void>
  /**
   * Runs `reconcile` now, then every `ms` in one process of the fleet at a time (a Redis
   * lock), until close; failures are logged. Only for processes that take entries.
   */
  reconcileEvery(ms: number, reconcile: () => Promise<unknown>): Promise<void>
  /** True for one caller in the fleet per `ms` (a Redis lock that expires). */
  once(what: string, ms: number): Promise<boolean>
  close(): Promise<void>
}

/** BullMQ's priorities run 1 (first) … 2^21; ours run the other way round from 0. */
const PRIORITY_ZERO = 1 << 20
const toBullPriority = (priority: number) => Math.min(2 ** 21, Math.max(1, PRIORITY_ZERO - priority))

export async function openEntries(options: EntriesOptions): Promise<Entries> {
  const { logger, name } = options
  const prefix = options.prefix.replace(/:$/, '')
  const connect = () => new Redis(options.redisUrl, { maxRetriesPerRequest: null, connectTimeout: 10_000 })
  // Adds, reads and moves fail fast while Redis is away (a create must not hang on it; the
  // reconciler adds what was missed); only the worker's connection waits for Redis.
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 10_000 })
  const connections = [connection]
  const queue = new Queue(name, { connection, prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } })
  queue.on('error', (error) => logger.warn({ err: error, queue: name }, 'bullmq:queue-error'))
  let worker: Worker | undefined
  if (options.consume) {
    const workerConnection = connect()
    connections.push(workerConnection)
    worker = new Worker(name, null, {
      connection: workerConnection,
      prefix,
      autorun: false,
      lockDuration: options.lockMs,
      stalledInterval: Math.max(1000, Math.floor(options.lockMs / 2)),
      // A stalled entry goes back to wait however often it stalls: whether its record may
      // run again is the record's call (attempts, JOB_ABANDONED), never BullMQ's.
      maxStalledCount: 1_000_000,
    })
    worker.on('error', (error) => logger.warn({ err: error, queue: name }, 'bullmq:worker-error'))
  }
  try {
    await queue.waitUntilReady()
    if (worker) {
      await worker.waitUntilReady()
      await worker.startStalledCheckTimer()
    }
  } catch (error) {
    await Promise.allSettled([worker?.close(true), queue.close()])
    for (const c of connections) c.disconnect()
    throw error
  }

  let pending: { id: string; priority: number; delayMs: number; done: () => void; failed: (error: unknown) => void }[] = []
  let flushing: NodeJS.Immediate | undefined
  let reconcileTimer: NodeJS.Timeout | undefined
  const inFlight = new Set<Promise<void>>()
  const flush = async () => {
    flushing = undefined
    const batch = pending
    pending = []
    const adding = addBatch(batch)
    inFlight.add(adding)
    await adding
    inFlight.delete(adding)
  }
  const addBatch = async (batch: typeof pending) => {
    try {
      await queue.addBulk(
        batch.map((entry) => ({
          name,
          data: {},
          opts: { jobId: entry.id, priority: toBullPriority(entry.priority), delay: Math.max(0, Math.round(entry.delayMs)) },
        })),
      )
      for (const entry of batch) entry.done()
    } catch (error) {
      for (const entry of batch) entry.failed(error)
    }
  }

  const entries: Entries = {
    queue,

    add: (id, priority, delayMs) =>
      new Promise<void>((done, failed) => {
        pending.push({ id, priority, delayMs, done, failed })
        flushing ??= setImmediate(() => void flush())
      }),

    async next(token) {
      if (!worker) throw new Error(`this process takes no entries from BullMQ queue ${name}`)
      const entry = await worker.getNextJob(token, { block: false })
      return entry?.id ? entry : undefined
    },

    async missing(ids) {
      if (ids.length === 0) return []
      const pipeline = connection.pipeline()
      for (const id of ids) pipeline.exists(queue.toKey(id))
      const exists = (await pipeline.exec()) ?? []
      return ids.filter((_, i) => exists[i]?.[1] === 0)
    },

    async quiet(what, id, step) {
      try {
        await step()
      } catch (error) {
        logger.debug({ err: error, id, queue: name }, `bullmq:${what}-skipped`)
      }
    },

    async nextDueInMs() {
      // The delayed set's score is the due time × 0x1000 (plus a counter); the entry's own
      // `timestamp + delay` is not, once it has been moved to delayed again (a retry).
      const [, score] = await connection.zrange(queue.keys.delayed!, '0', '0', 'WITHSCORES')
      return score === undefined ? undefined : Math.floor(Number(score) / 0x1000) - Date.now()
    },

    async readyAgain(id, formerOwner, priority) {
      const entry = await queue.getJob(id)
      if (!entry) return entries.add(id, priority, 0)
      const state = await entry.getState()
      if (state === 'delayed') return entries.quiet('promote', id, () => entry.promote())
      if (state !== 'active') return
      // Active, its worker gone. While the dead worker's lock lasts, its token (the lease
      // owner id) moves the entry back, keeping its priority. Once the lock has expired — the
      // usual case, as lock and lease expire together — no token works: take the entry out
      // and add it again (BullMQ's stalled check would put it back too, but later, and ahead
      // of every prioritized entry).
      if (formerOwner) {
        try {
          await entry.moveToWait(formerOwner)
          return
        } catch {
          // The lock is gone: below.
        }
      }
      await entries.quiet('re-add', id, async () => {
        await entry.remove()
        await entries.add(id, priority, 0)
      })
    },

    async reconcileEvery(ms, reconcile) {
      const run = async (force: boolean) => {
        try {
          if (!force && !(await entries.once('reconciler', ms))) return
          await reconcile()
        } catch (error) {
          logger.warn({ err: error, queue: name }, 'bullmq:reconcile-failed')
        }
      }
      await run(true)
      reconcileTimer = setInterval(() => void run(false), ms)
      reconcileTimer.unref()
    },

    async once(what, ms) {
      return (await connection.set(`${prefix}:${name}:${what}`, '1', 'PX', ms, 'NX')) === 'OK'
    },

    async close() {
      clearInterval(reconcileTimer)
      if (flushing) {
        clearImmediate(flushing)
        await flush()
      }
      await Promise.allSettled(inFlight)
      await Promise.allSettled([worker?.close(true), queue.close()])
      for (const c of connections) c.disconnect()
    },
  }
  return entries
}
