import type { Command } from 'commander'
import type { Logger } from 'pino'
import type { Config } from '../config/load-config.js'
import { createFluxhost, type Fluxhost, readVersion } from '../main.js'
import { createLogger } from '../observability/logger.js'
import type { CliIo } from './io.js'
import { addSettingOptions, configFrom } from './settings-options.js'

/** The start-up lines that say where records, images and events are, for serve and worker. */
function whereThingsLive(config: Config): string[] {
  const { database, s3 } = config
  const records = database
    ? `PostgreSQL ${redactUrl(database.url)}${database.schema ? ` (schema ${database.schema})` : ''}`
    : `SQLite in ${config.dataDir}`
  const redirects = config.fileDelivery === 'redirect' ? ' (file URLs redirect to presigned bucket URLs)' : ''
  const images = s3 ? `s3://${s3.bucket}/${s3.prefix}${redirects}` : `${config.dataDir}/blobs`
  const events = !database
    ? 'in this process'
    : database.listen
      ? 'PostgreSQL LISTEN/NOTIFY (every process)'
      : 'in this process; other processes are polled (FLUXHOST_DATABASE_LISTEN=0)'
  return [`  records   ${records}`, `  images    ${images}`, '  queue     the jobs table', `  events    ${events}`]
}

/** The URL without its password, for printing. */
function redactUrl(raw: string): string {
  const url = new URL(raw)
  if (url.password) url.password = '***'
  return url.toString()
}

/** Runs the start-up steps; if one fails (a port in use), closes everything so the process can exit. */
async function startedOrClosed<T>(fluxhost: Fluxhost, start: () => Promise<T>): Promise<T> {
  try {
    return await start()
  } catch (error) {
    await fluxhost.close(0).catch(() => undefined)
    throw error
  }
}

export function serveCommand(program: Command, io: CliIo): void {
  const command = program
    .command('serve')
    .description('Run the HTTP API and (unless --no-worker) the workers, on the embedded defaults.')
  addSettingOptions(command).action(async (opts: Record<string, unknown>) => {
    const config = configFrom(io, opts)
    const logger = createLogger(config.logLevel, io.log.stream)
    const fluxhost = await createFluxhost(config, { logger })
    const { bootstrapKey, url } = await startedOrClosed(fluxhost, async () => ({
      bootstrapKey: await fluxhost.services.keys.ensureBootstrapKey(),
      url: await fluxhost.start(),
    }))
    const out = (line = '') => io.stdout.write(`${line}\n`)
    out(`fluxhost ${readVersion()} listening on ${url}`)
    out(`  data dir  ${config.dataDir}`)
    for (const line of whereThingsLive(config)) out(line)
    for (const line of routeLines(fluxhost)) out(line)
    out(`  workers   ${fluxhost.runner ? `${config.worker.concurrency} in this process` : 'none (--no-worker)'}`)
    const checks = config.safety.checker
      ? 'prompt blocklist + output classifier (nsfwjs)'
      : 'prompt blocklist only (FLUXHOST_SAFETY_CHECKER=0)'
    out(`  safety    ${checks}`)
    out(`  playground ${url}/`)
    out(`  API docs  ${url}/docs`)
    if (bootstrapKey) {
      out()
      out('No API key existed, so one admin key was created. It is shown only this once:')
      out(`  ${bootstrapKey}`)
      out(`  try: curl -H "x-key: ${bootstrapKey}" ${url}/api/models`)
    }
    out()
    // Load the classifier now, in its thread, so the first job does not wait for it.
    if (fluxhost.runner) {
      const started = performance.now()
      fluxhost.warmUp().then(
        () => logger.info({ ms: Math.round(performance.now() - started) }, 'safety:classifier-ready'),
        (error: unknown) => logger.error({ err: error }, 'safety:classifier-failed'),
      )
    }

    await untilStopped(fluxhost, config.worker.shutdownGraceMs, logger, io)
  })
}

/**
 * `fluxhost worker`: workers only, no HTTP — for GPU hosts that share the records (and the
 * bucket) with the API processes. Any number of them may run.
 */
export function workerCommand(program: Command, io: CliIo): void {
  const command = program
    .command('worker')
    .description('Run workers only (no HTTP API), against the records and images the API processes use.')
  addSettingOptions(command).action(async (opts: Record<string, unknown>) => {
    const config = configFrom(io, opts)
    const logger = createLogger(config.logLevel, io.log.stream)
    const fluxhost = await createFluxhost(config, { logger, http: false, worker: true })
    await startedOrClosed(fluxhost, () => fluxhost.start())
    const out = (line = '') => io.stdout.write(`${line}\n`)
    out(`fluxhost ${readVersion()} worker: ${config.worker.concurrency} at a time, pid ${process.pid}`)
    for (const line of whereThingsLive(config)) out(line)
    for (const line of routeLines(fluxhost)) out(line)
    out()
    await fluxhost.warmUp().catch((error: unknown) => logger.error({ err: error }, 'safety:classifier-failed'))
    await untilStopped(fluxhost, config.worker.shutdownGraceMs, logger, io)
  })
}

/** Waits for SIGINT/SIGTERM, then stops gracefully; a second signal exits at once. */
function untilStopped(
  fluxhost: Awaited<ReturnType<typeof createFluxhost>>,
  graceMs: number,
  logger: Logger,
  io: CliIo,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false
    const remove = io.onSignal((signal) => {
      if (stopping) {
        // A second signal means "now": leave the running jobs to lease expiry.
        logger.warn({ signal }, 'server:forced-exit')
        process.exit(1)
      }
      stopping = true
      logger.info({ signal, graceMs }, 'server:stopping')
      fluxhost
        .close()
        .then(() => {
          logger.info('server:stopped')
          return io.log.flush()
        })
        .catch((error: unknown) => logger.error({ err: error }, 'server:stop-failed'))
        .finally(() => {
          remove()
          resolve()
        })
    })
  })
}

/** `  model     flux-pro-1.1 → cheapest: fal, replicate` (the policy only when not failover). */
function routeLines(fluxhost: Pick<Fluxhost, 'routes' | 'policies'>): string[] {
  return Object.entries(fluxhost.routes).map(([model, engines]) => {
    const policy = fluxhost.policies[model as keyof typeof fluxhost.policies]
    return `  model     ${model} → ${policy && policy !== 'failover' ? `${policy}: ` : ''}${engines.join(', ')}`
  })
}
