import { randomFillSync, randomInt } from 'node:crypto'
import type { Logger } from 'pino'
import type { BlobStore } from '../blobs/blob-store.js'
import type { SecretBox } from '../blobs/secret-box.js'
import type { Config } from '../config/config.js'
import type { Clock } from '../domain/clock.js'
import { FluxhostError } from '../domain/errors.js'
import { createUuidV7 } from '../domain/uuid7.js'
import type { EngineRouter } from '../engines/router.js'
import { MAX_INPUT_BYTES } from '../images/probe.js'
import { createOutbound, type Outbound } from '../net/outbound.js'
import type { Metrics } from '../observability/metrics.js'
import type { JobEvents } from '../queue/job-events.js'
import { createJobQueue, type JobQueue } from '../queue/job-queue.js'
import { createAdminService } from '../services/admin.js'
import { createIdempotencyService } from '../services/idempotency.js'
import { createJobService } from '../services/jobs.js'
import { createKeyEvents } from '../services/key-events.js'
import { createKeyService } from '../services/keys.js'
import { createLimitService } from '../services/limits.js'
import { createRetentionService } from '../services/retention.js'
import type { Services } from '../services/services.js'
import { createSystemService } from '../services/system.js'
import { createWebhookService } from '../services/webhooks.js'
import type { Store } from '../store/store.js'

export interface ServiceParts {
  config: Config
  store: Store
  events: JobEvents
  blobs: BlobStore
  /** Seals BFL's per-job `webhook_secret` before it is written (compose/files.ts). */
  secrets: Pick<SecretBox, 'seal'>
  router: EngineRouter
  clock: Clock
  logger: Logger
  /** Counts creates refused by a key's limits (absent in the CLI's local commands). */
  metrics?: Pick<Metrics, 'refusals'>
}

/** The use cases api/ and cli/ call, over the queue in the records. */
export interface Built {
  services: Services
  queue: JobQueue
  /** Checked outbound HTTP (image-prompt URLs, webhooks): one agent for the process. */
  outbound: Outbound
}

export function buildServices(parts: ServiceParts): Built {
  const { config, store, events, blobs, router, clock, logger } = parts
  const uuidv7 = createUuidV7(
    () => clock.now(),
    (buffer) => randomFillSync(buffer),
  )
  const queue = createJobQueue({
    store,
    events,
    clock,
    leaseMs: config.worker.leaseMs,
    maxAttempts: config.worker.maxAttempts,
    // Shared records (PostgreSQL): a lease ends only by expiring, never by a host:pid guess.
    trustOwnerIds: store.kind === 'sqlite',
  })
  const outbound = createOutbound({
    allowPrivate: config.allowPrivateUrls,
    timeoutMs: 15_000,
    maxBytes: MAX_INPUT_BYTES,
    maxRedirects: 3,
  })
  const jobs = createJobService({
    store,
    queue,
    events,
    blobs,
    router,
    outbound,
    clock,
    logger,
    newJobId: uuidv7,
    newSeed: () => randomInt(1, 2 ** 32),
    pricesUsd: config.pricesUsd,
    allowSimulate: config.allowSimulate,
    secrets: parts.secrets,
    limitDefaults: config.keyLimits,
    onRefusal: (reason) => parts.metrics?.refusals.inc({ reason }),
  })
  const keys = createKeyService({
    store,
    clock,
    newId: () => `key_${uuidv7().replace(/-/g, '')}`,
    staticKeys: config.apiKeys,
    // A revoke cancels the key's jobs: their workers and waiters hear it at once.
    events,
  })
  const system = createSystemService({
    store,
    queue,
    router,
    clock,
    pricesUsd: config.pricesUsd,
    enginePricesUsd: config.enginePricesUsd,
  })
  const services: Services = {
    jobs,
    keyEvents: createKeyEvents({
      events,
      logger,
      // A deleted job is read as it is kept (deletedAt set, prompt and result scrubbed): the
      // stream says it is gone.
      read: (id) =>
        jobs.get(id, undefined).catch(async (error: unknown) => {
          if (!(error instanceof FluxhostError) || error.code !== 'JOB_NOT_FOUND') throw error
          const kept = await store.jobs.get(id)
          return kept?.deletedAt ? kept : undefined
        }),
    }),
    webhooks: createWebhookService({ store, jobs, events, clock }),
    idempotency: createIdempotencyService({ store, clock, ttlMs: config.idempotencyTtlMs }),
    keys,
    system,
    admin: createAdminService({ store, keys, system, queue, clock }),
    limits: createLimitService({
      store,
      clock,
      defaults: config.keyLimits,
      newId: () => `cl_${uuidv7().replace(/-/g, '')}`,
      keysChanged: keys.invalidate,
      vetUrl: (url) => outbound.vet(url),
    }),
    retention: createRetentionService({
      store,
      blobs,
      clock,
      logger,
      retentionMs: config.retentionMs,
      onPruned: jobs.forget,
    }),
  }
  return { services, queue, outbound }
}
