import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { BlobStore } from '../blobs/blob-store.js'
import type { SecretBox } from '../blobs/secret-box.js'
import type { Config } from '../config/config.js'
import type { Clock } from '../domain/clock.js'
import type { Job } from '../domain/job.js'
import type { PushKeys } from '../engines/push.js'
import type { EngineRouter } from '../engines/router.js'
import type { Outbound } from '../net/outbound.js'
import type { Metrics } from '../observability/metrics.js'
import { createChatUpsampler } from '../prompts/upsampler.js'
import type { JobEvents } from '../queue/job-events.js'
import type { JobQueue } from '../queue/job-queue.js'
import { isOwnerDead, newOwnerId } from '../queue/owner.js'
import { createSafetyChecker } from '../safety/checker.js'
import { createNsfwClassifier } from '../safety/classifier.js'
import { createPromptPolicy, DEFAULT_BLOCKLIST } from '../safety/policy.js'
import type { KeyService } from '../services/keys.js'
import type { Store } from '../store/store.js'
import { createDeliveryQueue } from '../webhooks/delivery-queue.js'
import { createWebhookDispatcher, deliveryLeaseMs, type WebhookDispatcher } from '../webhooks/dispatcher.js'
import { createRunner, type Runner } from '../worker/runner.js'

export interface WorkerParts {
  config: Config
  store: Store
  queue: JobQueue
  events: JobEvents
  blobs: BlobStore
  router: EngineRouter
  outbound: Outbound
  keys: KeyService
  /** Opens BFL's per-job `webhook_secret`, sealed in the records (compose/files.ts). */
  secrets: SecretBox
  metrics: Metrics
  clock: Clock
  logger: Logger
  /** Webhook bodies: what each job's dialect's read route returns, as JSON. */
  renderWebhook(job: Job): string
  userAgent: string
  /** Run only this key's jobs and send no webhooks (the CLI's in-process generate). */
  onlyKeyId?: string
  /** Provider callbacks (FLUXHOST_PROVIDER_WEBHOOKS): the URLs engines hand to BFL, fal and Replicate. */
  push?: PushKeys
}

/** The workers of one process: job runners and, unless they are the CLI's own, the webhook dispatcher. */
export interface Workers {
  runner: Runner
  /** `attempt` ({deliveryId, jobId, outcome, latencyMs}) after each webhook attempt is recorded. */
  webhookEvents: EventEmitter
  start(): Promise<void>
  /** Loads the output classifier now rather than on the first job. */
  warmUp(): Promise<void>
  /** Stops claiming; work still running after `graceMs` is aborted and put back. */
  stop(graceMs: number): Promise<void>
  close(): Promise<void>
}

export function buildWorkers(parts: WorkerParts): Workers {
  const { config, store, queue, events, blobs, router, clock, logger, metrics } = parts
  // One lease owner id for this process's job runners and webhook dispatcher.
  const owner = newOwnerId()
  // The classifier's thread starts on first use (or warmUp).
  const classifier = config.safety.checker ? createNsfwClassifier({ threads: config.safety.threads }) : undefined
  const blocklist = config.safety.blocklist?.terms ?? DEFAULT_BLOCKLIST
  const upsampler = config.upsampler
    ? createChatUpsampler({
        baseUrl: config.upsampler.url,
        model: config.upsampler.model,
        apiKey: config.upsampler.key ?? undefined,
      })
    : undefined
  const runner = createRunner({
    store,
    queue,
    events,
    blobs,
    router,
    clock,
    logger,
    metrics,
    leaseMs: config.worker.leaseMs,
    maxAttempts: config.worker.maxAttempts,
    concurrency: config.worker.concurrency,
    safety: createSafetyChecker(createPromptPolicy(blocklist), classifier),
    upsampler,
    ...(parts.push ? { push: parts.push } : {}),
    filter: parts.onlyKeyId === undefined ? undefined : { apiKeyId: parts.onlyKeyId },
    owner,
  })
  const webhookEvents = new EventEmitter()
  webhookEvents.setMaxListeners(0)
  // Shared records (PostgreSQL): a lease ends only by expiring, never by a host:pid guess.
  const trustOwnerIds = store.kind === 'sqlite'
  const dispatcher: WebhookDispatcher | undefined =
    parts.onlyKeyId === undefined
      ? createWebhookDispatcher({
          store,
          outbound: parts.outbound,
          events,
          clock,
          logger,
          owner,
          queue: createDeliveryQueue({
            store,
            clock,
            leaseMs: deliveryLeaseMs(config.webhooks.timeoutMs),
            firstDelayMs: config.webhooks.scheduleMs[0] ?? 0,
            isDead: (other) => trustOwnerIds && isOwnerDead(other, owner),
          }),
          scheduleMs: config.webhooks.scheduleMs,
          timeoutMs: config.webhooks.timeoutMs,
          concurrency: config.webhooks.concurrency,
          secretFor: (apiKeyId) => parts.keys.webhookSecret(apiKeyId),
          // Jobs written before sealing hold it in clear.
          jobSecret: (stored, jobId) =>
            parts.secrets.isSealed(stored) ? parts.secrets.open(stored, `job:${jobId}`) : stored,
          render: parts.renderWebhook,
          userAgent: parts.userAgent,
          onAttempt: (attempt) => {
            metrics.webhookAttempts.observe({ outcome: attempt.outcome }, attempt.latencyMs / 1000)
            webhookEvents.emit('attempt', attempt)
          },
        })
      : undefined
  return {
    runner,
    webhookEvents,
    async start() {
      await runner.start()
      await dispatcher?.start()
    },
    warmUp: async () => {
      await classifier?.ready()
    },
    async stop(graceMs) {
      await Promise.all([runner.stop(graceMs), dispatcher?.stop(graceMs)])
    },
    close: async () => classifier?.close(),
  }
}
