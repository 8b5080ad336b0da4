import type { Logger } from 'pino'
import type { Config } from '../config/load-config.js'
import type { Clock } from '../domain/clock.js'
import type { Store } from '../store/store.js'
import { createRecordsDeliveryQueue, type DeliveryQueue } from '../webhooks/delivery-queue.js'
import { deliveryLeaseMs } from '../webhooks/dispatcher.js'
import type { JobEvents } from './job-events.js'
import type { JobQueue } from './job-queue.js'
import { isOwnerDead } from './owner.js'
import { createRecordsQueue } from './records/records-queue.js'
import type { RedisJobEvents } from './redis/redis-events.js'

export interface Queues {
  /** Jobs: what services enqueue into and workers claim from. */
  queue: JobQueue
  /** Webhook deliveries: what the dispatcher claims from. */
  deliveries: DeliveryQueue
  /** Closes what these opened (BullMQ's Redis connections). */
  close(): Promise<void>
}

/**
 * The job queue and the delivery queue this process uses: the records themselves, or BullMQ
 * over them (FLUXHOST_QUEUE=bullmq, the default with REDIS_URL). With Redis, an enqueue also
 * wakes idle workers in every other process.
 */
export async function openQueues(options: {
  config: Config
  store: Store
  clock: Clock
  logger: Logger
  events: JobEvents
  redisEvents: RedisJobEvents | undefined
  /** This process's lease owner id. */
  owner: string
  /** Workers here take any key's jobs (the CLI's own worker claims by key, from the records). */
  takesJobs: boolean
  sendsWebhooks: boolean
}): Promise<Queues> {
  const { config, store, clock, logger, events, redisEvents, owner } = options
  // Shared records (PostgreSQL): a lease ends only by expiring, never by a host:pid guess.
  const trustOwnerIds = store.kind === 'sqlite'
  const isDead = (other: string) => trustOwnerIds && isOwnerDead(other, owner)
  const records = createRecordsQueue({ db: store.db, dialect: store.kind, clock, leaseMs: config.worker.leaseMs, maxAttempts: config.worker.maxAttempts, trustOwnerIds })
  const delivery = { store, clock, leaseMs: deliveryLeaseMs(config.webhooks.timeoutMs), firstDelayMs: config.webhooks.scheduleMs[0] ?? 0, isDead }

  let dispatch: JobQueue = records
  let deliveries: DeliveryQueue = createRecordsDeliveryQueue(delivery)
  const closers: (() => Promise<void>)[] = []
  if (config.queue === 'bullmq' && config.redis) {
    const redis = { redisUrl: config.redis.url, prefix: config.redis.prefix, logger }
    const jobs = await (await import('./bullmq/bullmq-queue.js')).createBullmqQueue({ ...redis, records, db: store.db, clock, leaseMs: config.worker.leaseMs, consume: options.takesJobs })
    closers.push(() => jobs.close())
    try {
      const bullDeliveries = await (await import('./bullmq/bullmq-deliveries.js')).createBullmqDeliveryQueue({ ...redis, ...delivery, events, consume: options.sendsWebhooks })
      closers.push(() => bullDeliveries.close())
      deliveries = bullDeliveries
    } catch (error) {
      await jobs.close()
      throw error
    }
    dispatch = jobs
  }

  const queue: JobQueue = redisEvents
    ? {
        ...dispatch,
        async enqueued(jobId, priority) {
          await dispatch.enqueued(jobId, priority)
          redisEvents.announceEnqueued()
        },
      }
    : dispatch
  redisEvents?.onEnqueued(() => dispatch.wake())

  return {
    queue,
    deliveries,
    async close() {
      await Promise.allSettled(closers.map((close) => close()))
    },
  }
}
