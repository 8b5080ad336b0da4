import { randomFillSync, randomInt } from 'node:crypto'
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { type Logger, pino } from 'pino'
import { buildApp } from './api/app.js'
import { createWebhookBodies } from './api/webhook-bodies.js'
import type { BlobStore } from './blobs/blob-store.js'
import { createFsBlobStore } from './blobs/fs/fs-blob-store.js'
import { loadOrCreateSecret } from './blobs/server-secret.js'
import { createUrlSigner, type UrlSigner } from './blobs/url-signer.js'
import { type Config, ConfigError } from './config/load-config.js'
import { type Clock, systemClock } from './domain/clock.js'
import { MODEL_IDS, type ModelId } from './domain/models.js'
import { createUuidV7 } from './domain/uuid7.js'
import { createBflEngine } from './engines/bfl/bfl-engine.js'
import { createComfyUiEngine } from './engines/comfyui/comfyui-engine.js'
import { loadWorkflows } from './engines/comfyui/workflows.js'
import type { ImageEngine } from './engines/engine.js'
import { createPreviewEngine } from './engines/preview/preview-engine.js'
import { createEngineRouter } from './engines/router.js'
import { createSdcppEngine } from './engines/sdcpp/sdcpp-engine.js'
import { withSimulation } from './engines/simulation.js'
import { MAX_INPUT_BYTES } from './images/probe.js'
import { createOutbound } from './net/outbound.js'
import { createMetrics } from './observability/metrics.js'
import { createChatUpsampler } from './prompts/upsampler.js'
import { createLocalJobEvents } from './queue/job-events.js'
import { createJobQueue } from './queue/job-queue.js'
import { isOwnerDead, newOwnerId } from './queue/owner.js'
import { createSharedJobEvents } from './queue/shared-events.js'
import { createSafetyChecker } from './safety/checker.js'
import { createNsfwClassifier } from './safety/classifier.js'
import { createPromptPolicy, DEFAULT_BLOCKLIST, parseBlocklist } from './safety/policy.js'
import { createAdminService } from './services/admin.js'
import { createIdempotencyService } from './services/idempotency.js'
import { createJobService } from './services/jobs.js'
import { createKeyService } from './services/keys.js'
import type { Services } from './services/services.js'
import { createSystemService } from './services/system.js'
import { createWebhookService } from './services/webhooks.js'
import { openPostgresStore, openSqliteStore } from './store/open-store.js'
import type { Store } from './store/store.js'
import { createDeliveryQueue } from './webhooks/delivery-queue.js'
import { createWebhookDispatcher, deliveryLeaseMs, type WebhookDispatcher } from './webhooks/dispatcher.js'
import { createRunner, type Runner } from './worker/runner.js'

export interface FluxhostOptions {
  logger?: Logger
  clock?: Clock
  /** Build the HTTP app (default true). */
  http?: boolean
  /** Run workers in this process (default: config.worker.enabled). */
  worker?: boolean
  /** Workers claim only this key's jobs (the CLI's in-process generate). */
  workerKeyId?: string
}

export interface Fluxhost {
  readonly config: Config
  readonly logger: Logger
  readonly store: Store
  readonly services: Services
  readonly blobs: BlobStore
  readonly signer: UrlSigner
  readonly runner: Runner | undefined
  readonly app: FastifyInstance | undefined
  /** `attempt` ({deliveryId, jobId, outcome, latencyMs}) after each webhook attempt is recorded. */
  readonly webhookEvents: EventEmitter
  /** Which engines serve each model, in failover order. */
  readonly routes: Readonly<Record<ModelId, readonly string[]>>
  /** Starts the workers and, with HTTP, listens. Returns the base URL when listening. */
  start(): Promise<string | undefined>
  /** Loads the output classifier now rather than on the first job (the server does, at start). */
  warmUp(): Promise<void>
  /** Graceful stop: no new work, running jobs get `graceMs`, the rest go back to the queue. */
  close(graceMs?: number): Promise<void>
}

export function readVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}

/** The composition root: the one place that builds real objects and wires them together. */
export async function createFluxhost(config: Config, options: FluxhostOptions = {}): Promise<Fluxhost> {
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? pino({ level: config.logLevel })
  const withWorker = options.worker ?? config.worker.enabled

  // Read before anything is opened, so a bad file leaves nothing half-started.
  let blocklist = DEFAULT_BLOCKLIST
  if (config.safety.blocklistFile) {
    try {
      blocklist = parseBlocklist(fs.readFileSync(config.safety.blocklistFile, 'utf8'))
    } catch (error) {
      throw new ConfigError([`FLUXHOST_PROMPT_BLOCKLIST ${config.safety.blocklistFile}: ${(error as Error).message}`])
    }
  }
  const preview: ImageEngine = createPreviewEngine({ steps: config.previewSteps })
  const engineFor = (engine: ImageEngine) =>
    config.allowSimulate && engine.name !== 'preview' ? withSimulation(engine) : engine
  const bfl = config.bfl
    ? createBflEngine({
        apiKey: config.bfl.apiKey,
        baseUrl: config.bfl.url,
        maxActive: config.bfl.maxActive,
        pollMinMs: config.bfl.pollMs,
      })
    : undefined
  let comfyui: ImageEngine | undefined
  if (config.comfyui) {
    let workflows: ReturnType<typeof loadWorkflows>
    try {
      workflows = loadWorkflows(config.comfyui.workflow, config.comfyui.img2imgWorkflow)
    } catch (error) {
      throw new ConfigError([`FLUXHOST_COMFYUI_WORKFLOW ${(error as Error).message}`])
    }
    comfyui = createComfyUiEngine({
      url: config.comfyui.url,
      workflows,
      maxQueued: config.comfyui.maxQueued,
      pollMs: config.comfyui.pollMs,
    })
  }
  const sdcpp = config.sdcpp
    ? createSdcppEngine({
        url: config.sdcpp.url,
        maxQueued: config.sdcpp.maxQueued,
        steps: config.sdcpp.steps ?? undefined,
      })
    : undefined
  const engines: Record<string, ImageEngine | undefined> = { preview, bfl, comfyui, sdcpp }
  // FLUXHOST_ROUTES, else every configured engine in this order (failing over down the
  // list), else preview. Preview is never added behind real engines by default: a
  // placeholder image in place of a real one would be a silent failure.
  const configured = [bfl, comfyui, sdcpp].filter((engine): engine is ImageEngine => engine !== undefined)
  const routeTable = Object.fromEntries(
    MODEL_IDS.map((id) => {
      const chosen = config.routes?.[id] ? config.routes[id]!.map((name) => engines[name]!) : configured
      const serving = chosen.filter((engine) => engine.supports(id))
      const refused = config.routes?.[id] ? chosen.filter((engine) => !engine.supports(id)) : []
      if (refused.length > 0)
        throw new ConfigError([
          `FLUXHOST_ROUTES sends ${id} to ${refused.map((e) => e.name).join(', ')}, which cannot serve it`,
        ])
      return [id, (serving.length > 0 ? serving : [preview]).map(engineFor)]
    }),
  ) as Record<ModelId, ImageEngine[]>
  fs.mkdirSync(config.dataDir, { recursive: true })
  const { store, migrations } = config.database
    ? await openPostgresStore(config.database.url, {
        ...(config.database.schema ? { schema: config.database.schema } : {}),
        listen: config.database.listen,
        onChannelStatus: ({ listening, error }) =>
          listening
            ? logger.info('events:listening-again')
            : logger.warn({ err: error }, 'events:not-listening (reconnecting; idle workers poll meanwhile)'),
      })
    : await openSqliteStore(path.join(config.dataDir, 'fluxhost.db'))
  if (migrations.length > 0) logger.info({ migrations }, 'store:migrated')
  // From here on, a failure closes what was opened (pools, connections) so the process
  // can exit instead of hanging on open sockets.
  const opened: (() => unknown)[] = [() => store.close()]
  try {
    return await assemble()
  } catch (error) {
    await Promise.allSettled(opened.reverse().map(async (close) => close()))
    throw error
  }

  async function assemble(): Promise<Fluxhost> {
    // Loaded only when configured: the AWS SDK is a large import for every CLI command otherwise.
    const s3 = config.s3
      ? (await import('./blobs/s3/s3-blob-store.js')).createS3BlobStore({
          bucket: config.s3.bucket,
          prefix: config.s3.prefix,
          region: config.s3.region,
          ...(config.s3.endpoint ? { endpoint: config.s3.endpoint } : {}),
          ...(config.s3.credentials ? { credentials: config.s3.credentials } : {}),
        })
      : undefined
    const blobs: BlobStore = s3 ?? createFsBlobStore(path.join(config.dataDir, 'blobs'))
    if (s3) opened.push(() => s3.close())
    // The file-URL key: configured; else, on shared records, kept in them (one for every
    // process); else the data dir's `secret` file.
    const secret = config.fileUrlSecret
      ? Buffer.from(config.fileUrlSecret, 'hex')
      : store.kind === 'postgres'
        ? await store.secrets.loadOrCreate('file-url', clock.now())
        : loadOrCreateSecret(path.join(config.dataDir, 'secret'))
    const signer = createUrlSigner(secret, clock, config.fileUrlTtlS)
    // FLUXHOST_FILE_DELIVERY=redirect: a checked file URL answers 302 to a presigned bucket URL.
    const presign =
      s3 && config.fileDelivery === 'redirect' ? (key: string, ttlS: number) => s3.presign(key, ttlS) : undefined
    // Shared records (PostgreSQL): events reach every process over LISTEN/NOTIFY; else each
    // process has its own.
    const shared = store.channel ? createSharedJobEvents(store.channel, logger) : undefined
    await shared?.start()
    const events = shared ?? createLocalJobEvents()
    const uuidv7 = createUuidV7(
      () => clock.now(),
      (buffer) => randomFillSync(buffer),
    )
    // One lease owner id for this process's job workers and webhook dispatcher.
    const owner = newOwnerId()
    // Webhooks go out from every process that runs workers for all keys (not the CLI's own).
    const sendsWebhooks = withWorker && options.workerKeyId === undefined
    // Shared records (PostgreSQL): a lease ends only by expiring, never by a host:pid guess.
    const trustOwnerIds = store.kind === 'sqlite'
    const queue = createJobQueue({
      store,
      events,
      clock,
      leaseMs: config.worker.leaseMs,
      maxAttempts: config.worker.maxAttempts,
      trustOwnerIds,
    })
    const deliveryQueue = createDeliveryQueue({
      store,
      clock,
      leaseMs: deliveryLeaseMs(config.webhooks.timeoutMs),
      firstDelayMs: config.webhooks.scheduleMs[0] ?? 0,
      isDead: (other) => trustOwnerIds && isOwnerDead(other, owner),
    })

    const router = createEngineRouter(routeTable)

    // The classifier's thread starts on first use (or warmUp), never in processes without workers.
    const classifier =
      config.safety.checker && withWorker ? createNsfwClassifier({ threads: config.safety.threads }) : undefined
    if (classifier) opened.push(() => classifier.close())
    const safety = createSafetyChecker(createPromptPolicy(blocklist), classifier)

    const outbound = createOutbound({
      allowPrivate: config.allowPrivateUrls,
      timeoutMs: 15_000,
      maxBytes: MAX_INPUT_BYTES,
      maxRedirects: 3,
    })
    opened.push(() => outbound.close())

    const metrics = createMetrics()
    metrics.watch({ countByState: () => store.jobs.countByState(), queueDepth: () => queue.depth() })

    let dispatcher: WebhookDispatcher | undefined
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
    })
    const keys = createKeyService({
      store,
      clock,
      newId: () => `key_${uuidv7().replace(/-/g, '')}`,
      staticKeys: config.apiKeys,
    })
    const system = createSystemService({ store, queue, router, clock, pricesUsd: config.pricesUsd })
    const services: Services = {
      jobs,
      webhooks: createWebhookService({ store, jobs, events, clock }),
      idempotency: createIdempotencyService({ store, clock, ttlMs: config.idempotencyTtlMs }),
      keys,
      system,
      admin: createAdminService({ store, keys, system, queue, clock }),
    }
    await services.keys.syncStaticKeys()

    const runner = withWorker
      ? createRunner({
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
          safety,
          upsampler: config.upsampler
            ? createChatUpsampler({
                baseUrl: config.upsampler.url,
                model: config.upsampler.model,
                apiKey: config.upsampler.key ?? undefined,
              })
            : undefined,
          filter: options.workerKeyId === undefined ? undefined : { apiKeyId: options.workerKeyId },
          owner,
        })
      : undefined

    let listeningUrl: string | undefined
    const webhookEvents = new EventEmitter()
    webhookEvents.setMaxListeners(0)
    if (sendsWebhooks) {
      dispatcher = createWebhookDispatcher({
        store,
        outbound,
        events,
        clock,
        logger,
        owner,
        queue: deliveryQueue,
        scheduleMs: config.webhooks.scheduleMs,
        timeoutMs: config.webhooks.timeoutMs,
        concurrency: config.webhooks.concurrency,
        secretFor: (apiKeyId) => services.keys.webhookSecret(apiKeyId),
        render: createWebhookBodies(
          signer,
          () => config.publicUrl ?? listeningUrl ?? `http://${config.host}:${config.port}`,
        ),
        userAgent: `fluxhost/${readVersion()} (webhooks)`,
        onAttempt: (attempt) => {
          metrics.webhookAttempts.observe({ outcome: attempt.outcome }, attempt.latencyMs / 1000)
          webhookEvents.emit('attempt', attempt)
        },
      })
    }

    const app =
      options.http === false
        ? undefined
        : await buildApp(
            {
              services,
              config,
              signer,
              blobs,
              ...(presign ? { presign } : {}),
              metrics,
              clock,
              version: readVersion(),
              startedAt: clock.now(),
              worker: {
                enabled: withWorker,
                concurrency: config.worker.concurrency,
                running: () => runner?.running() ?? 0,
              },
            },
            logger,
          )

    // Fastify's close stops listening and waits for requests in flight, but a client that
    // stalls mid-request or stops reading its response would then hold the process open.
    // After the grace period, or once close returns, cut whatever connections are left.
    const closeHttp = async (graceMs: number) => {
      if (!app) return
      const timer = setTimeout(() => app.server.closeAllConnections(), graceMs + 100)
      try {
        await app.close()
      } finally {
        clearTimeout(timer)
        app.server.closeAllConnections()
      }
    }

    let closing: Promise<void> | undefined
    let sweeper: NodeJS.Timeout | undefined
    return {
      config,
      logger,
      store,
      services,
      blobs,
      signer,
      runner,
      app,
      webhookEvents,
      routes: Object.fromEntries(MODEL_IDS.map((id) => [id, routeTable[id].map((e) => e.name)])) as Record<
        ModelId,
        string[]
      >,

      async start() {
        await runner?.start()
        await dispatcher?.start()
        // Expired idempotency keys are refused on use; this only reclaims their space.
        sweeper = setInterval(
          () =>
            void services.idempotency
              .sweep()
              .catch((error: unknown) => logger.warn({ err: error }, 'idempotency:sweep-failed')),
          10 * 60_000,
        )
        sweeper.unref()
        if (!app) return undefined
        await app.listen({ host: config.host, port: config.port })
        const address = app.server.address()
        const port = typeof address === 'object' && address ? address.port : config.port
        const host = config.host.includes(':') ? `[${config.host}]` : config.host
        listeningUrl = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`
        return listeningUrl
      },

      async warmUp() {
        await classifier?.ready()
      },

      close(graceMs = config.worker.shutdownGraceMs) {
        closing ??= (async () => {
          clearInterval(sweeper)
          // Every stage runs even if one part fails to stop, so no socket keeps the process alive.
          const first = await Promise.allSettled([closeHttp(graceMs), runner?.stop(graceMs), dispatcher?.stop(graceMs)])
          const second = await Promise.allSettled([store.close(), outbound.close(), classifier?.close()])
          s3?.close()
          for (const outcome of [...first, ...second])
            if (outcome.status === 'rejected') logger.error({ err: outcome.reason }, 'shutdown:part-failed')
        })()
        return closing
      },
    }
  }
}
