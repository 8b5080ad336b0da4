import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from './api/app.js'
import { createWebhookBodies } from './api/webhook-bodies.js'
import type { BlobStore } from './blobs/blob-store.js'
import type { UrlSigner } from './blobs/url-signer.js'
import { openFiles } from './compose/files.js'
import { openRecords } from './compose/records.js'
import { buildServices } from './compose/services.js'
import { buildWorkers } from './compose/worker.js'
import type { Config } from './config/config.js'
import { type Clock, systemClock } from './domain/clock.js'
import type { ModelId } from './domain/models.js'
import type { RoutePolicy } from './domain/routing.js'
import { createPushKeys } from './engines/push.js'
import { ENGINE_REGISTRY } from './engines/registry.js'
import { buildEngineRoutes, engineDownloads } from './engines/routes.js'
import { createLogger } from './observability/logger.js'
import { createMetrics } from './observability/metrics.js'
import type { Services } from './services/services.js'
import type { Store } from './store/store.js'
import type { Runner } from './worker/runner.js'

export interface FluxhostOptions {
  logger?: Logger
  clock?: Clock
  /** Build the HTTP app (default true). */
  http?: boolean
  /** `start()` listens on config.host:port (default true); without, the app answers `inject()` only. */
  listen?: boolean
  /** Run workers in this process (default: config.worker.enabled). */
  worker?: boolean
  /** Workers claim only this key's jobs and send no webhooks (the CLI's in-process generate). */
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
  /** Each model's routing policy (failover unless FLUXHOST_ROUTES names another). */
  readonly policies: Readonly<Record<ModelId, RoutePolicy>>
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

/**
 * The composition root: builds the parts (compose/: records, files, services, workers; the
 * engines from their registry; the HTTP app) and wires them. The one place real objects
 * are made; a failure part-way closes whatever was already opened.
 */
export async function createFluxhost(config: Config, options: FluxhostOptions = {}): Promise<Fluxhost> {
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? createLogger(config.logLevel)
  const withWorker = options.worker ?? config.worker.enabled
  const downloads = engineDownloads(config)
  const engines = buildEngineRoutes(config, ENGINE_REGISTRY, downloads)
  const closeEngines = async () => {
    for (const engine of engines.engines.values()) await engine.close?.()
    await downloads.close()
  }
  let records: Awaited<ReturnType<typeof openRecords>>
  try {
    records = await openRecords(config, { logger, listen: true })
  } catch (error) {
    await closeEngines()
    throw error
  }
  const { store } = records
  const opened: (() => unknown)[] = [() => closeEngines(), () => records.close()]
  try {
    const files = await openFiles(config, store, clock)
    opened.push(() => files.close())
    const metrics = createMetrics()
    const { services, queue, outbound } = buildServices({
      ...records,
      blobs: files.blobs,
      secrets: files.secrets,
      router: engines.router,
      config,
      clock,
      logger,
      metrics,
    })
    opened.push(
      () => outbound.close(),
      () => services.keyEvents.close(),
    )
    await services.keys.syncStaticKeys()
    // The API's defaults (FLUXHOST_KEY_*) decide the budget each key's settlements count against.
    if (options.http !== false) await services.limits.publishDefaults()
    metrics.watch({ countByState: () => store.jobs.countByState(), queueDepth: () => queue.depth() })
    let listeningUrl: string | undefined
    const push =
      config.providerWebhooks && config.publicUrl ? createPushKeys(files.pushSecret, config.publicUrl) : undefined
    const workers = withWorker
      ? buildWorkers({
          ...(push ? { push } : {}),
          ...records,
          config,
          queue,
          blobs: files.blobs,
          router: engines.router,
          outbound,
          keys: services.keys,
          secrets: files.secrets,
          metrics,
          clock,
          logger,
          renderWebhook: createWebhookBodies(
            files.signer,
            () => config.publicUrl ?? listeningUrl ?? `http://${config.host}:${config.port}`,
          ),
          userAgent: `fluxhost/${readVersion()} (webhooks)`,
          ...(options.workerKeyId === undefined ? {} : { onlyKeyId: options.workerKeyId }),
        })
      : undefined
    if (workers) opened.push(() => workers.close())
    const app =
      options.http === false
        ? undefined
        : await buildApp(
            {
              services,
              config,
              signer: files.signer,
              blobs: files.blobs,
              ...(files.presign ? { presign: files.presign } : {}),
              ...(push ? { enginePush: { keys: push, engines: engines.engines, events: records.events } } : {}),
              metrics,
              clock,
              version: readVersion(),
              startedAt: clock.now(),
              worker: {
                enabled: withWorker,
                concurrency: config.worker.concurrency,
                running: () => workers?.runner.running() ?? 0,
              },
            },
            logger,
          )
    let sweeper: NodeJS.Timeout | undefined
    let retention: { stop(): Promise<void> } | undefined
    let closing: Promise<void> | undefined
    return {
      config,
      logger,
      store,
      services,
      blobs: files.blobs,
      signer: files.signer,
      runner: workers?.runner,
      app,
      webhookEvents: workers?.webhookEvents ?? new EventEmitter(),
      routes: engines.names,
      policies: engines.policies,

      async start() {
        await workers?.start()
        // Expired idempotency keys are refused on use; this only reclaims their space.
        sweeper = setInterval(() => {
          services.idempotency
            .sweep()
            .catch((error: unknown) => logger.warn({ err: error }, 'idempotency:sweep-failed'))
        }, 10 * 60_000)
        sweeper.unref()
        // Retention sweeps hourly in every serving or working process; on PostgreSQL one at a time.
        if (config.retentionMs !== null && options.workerKeyId === undefined) retention = services.retention.schedule()
        if (!app) return undefined
        if (options.listen === false) {
          await app.ready()
          return undefined
        }
        await app.listen({ host: config.host, port: config.port })
        listeningUrl = listeningUrlOf(app, config)
        return listeningUrl
      },

      warmUp: async () => workers?.warmUp(),

      close(graceMs = config.worker.shutdownGraceMs) {
        closing ??= (async () => {
          clearInterval(sweeper)
          // Every stage runs even if one part fails to stop, so no socket keeps the process alive.
          const first = await Promise.allSettled([closeHttp(app, graceMs), workers?.stop(graceMs), retention?.stop()])
          const second = await Promise.allSettled(opened.reverse().map(async (close) => close()))
          for (const outcome of [...first, ...second])
            if (outcome.status === 'rejected') logger.error({ err: outcome.reason }, 'shutdown:part-failed')
        })()
        return closing
      },
    }
  } catch (error) {
    // A failed start (a port in use, a bucket refused) closes what was opened, so the process can exit.
    await Promise.allSettled(opened.reverse().map(async (close) => close()))
    throw error
  }
}

function listeningUrlOf(app: FastifyInstance, config: Config): string {
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`
}

/**
 * Fastify's close stops listening and waits for requests in flight, but a client that stalls
 * mid-request or stops reading its response would then hold the process open. After the
 * grace period, or once close returns, cut whatever connections are left.
 */
async function closeHttp(app: FastifyInstance | undefined, graceMs: number): Promise<void> {
  if (!app) return
  const timer = setTimeout(() => app.server.closeAllConnections(), graceMs + 100)
  try {
    await app.close()
  } finally {
    clearTimeout(timer)
    app.server.closeAllConnections()
  }
}
