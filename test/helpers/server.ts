import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Logger, pino } from 'pino'
import { loadConfig } from '../../src/config/load-config.js'
import type { Clock } from '../../src/domain/clock.js'
import type { Job } from '../../src/domain/job.js'
import { createFluxhost, type Fluxhost } from '../../src/main.js'
import { createLogger } from '../../src/observability/logger.js'
import type { Store } from '../../src/store/store.js'
import { KEY_A, KEY_B } from './keys.js'
import { startS3 } from './s3.js'
import { createSchema, POSTGRES_URL } from './services.js'
import { openStoreAt, type RecordsAt } from './store.js'

export { KEY_A, KEY_B }

/** A clock tests can move forward. */
export function testClock(): Clock & { advance(ms: number): void } {
  let offset = 0
  return {
    now: () => Date.now() + offset,
    advance(ms) {
      offset += ms
    },
  }
}

export function tempDir(prefix = 'fluxhost-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export interface TestServer {
  url: string
  dataDir: string
  fluxhost: Fluxhost
  clock: ReturnType<typeof testClock>
  /** The env that points a spawned CLI at this server's records (data dir, and database if any). */
  recordsEnv: Record<string, string>
  /** Where this server's records are (for `openRawDb`, or a store of a test's own). */
  recordsAt: RecordsAt
  /** Opens this server's records again (to look at them after `fluxhost.close()`); close it yourself. */
  openRecords(): Promise<Store>
  /** Resolves when the job is terminal (event-driven, not a sleep). */
  waitForJob(id: string): Promise<Job>
  /** Resolves once the job is running (checked now, then on each of its events). */
  waitUntilRunning(id: string): Promise<Job>
  close(): Promise<void>
}

/**
 * The logger of a test server: the server's own (createLogger, with its redaction), writing
 * to a file under FLUXHOST_TEST_LOG_DIR, which the suite's teardown greps for credentials
 * once every test has run (test/helpers/log-audit.ts). Silent outside the test runner.
 */
function auditedLogger(): Logger {
  const dir = process.env.FLUXHOST_TEST_LOG_DIR
  if (!dir) return pino({ level: 'silent' })
  const file = path.join(dir, `${process.pid}-${Math.random().toString(36).slice(2)}.log`)
  return createLogger('info', pino.destination({ dest: file, sync: true }))
}

/**
 * A real server on an ephemeral port over a fresh SQLite data dir. The output classifier is
 * off unless `env` turns it on (FLUXHOST_SAFETY_CHECKER=1); then its model is loaded before
 * this resolves, so no test's first job waits for it.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: { worker?: boolean; dataDir?: string; logger?: Logger } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir()
  // FLUXHOST_TEST_MODE=distributed (the `distributed` test project): the same tests with the
  // records in PostgreSQL (each server in a schema of its own; events over its LISTEN/NOTIFY)
  // and the images in an S3 bucket (an s3rver of its own).
  const cleanups: (() => Promise<void>)[] = []
  if (process.env.FLUXHOST_TEST_MODE === 'distributed' && env.DATABASE_URL === undefined) {
    const { schema, drop } = await createSchema()
    cleanups.push(drop)
    env = { DATABASE_URL: POSTGRES_URL, FLUXHOST_DATABASE_SCHEMA: schema, ...env }
  }
  if (process.env.FLUXHOST_TEST_MODE === 'distributed' && env.FLUXHOST_S3_BUCKET === undefined) {
    const s3 = await startS3()
    cleanups.push(() => s3.close())
    env = { ...s3.env, FLUXHOST_S3_PREFIX: 'fluxhost/', ...env }
  }
  const config = loadConfig({
    FLUXHOST_DATA_DIR: dataDir,
    FLUXHOST_PORT: '0',
    FLUXHOST_API_KEYS: `${KEY_A},${KEY_B}`,
    FLUXHOST_LOG_LEVEL: 'silent',
    FLUXHOST_SAFETY_CHECKER: '0',
    ...env,
  })
  const clock = testClock()
  const fluxhost = await createFluxhost(config, {
    clock,
    logger: options.logger ?? auditedLogger(),
    worker: options.worker,
  })
  const url = (await fluxhost.start())!
  if (config.safety.checker) await fluxhost.warmUp()
  const recordsEnv: Record<string, string> = {
    FLUXHOST_DATA_DIR: dataDir,
    ...(config.database
      ? {
          DATABASE_URL: config.database.url,
          ...(config.database.schema ? { FLUXHOST_DATABASE_SCHEMA: config.database.schema } : {}),
        }
      : {}),
    ...Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('FLUXHOST_S3_'))),
  }
  const recordsAt: RecordsAt = config.database
    ? {
        kind: 'postgres',
        url: config.database.url,
        ...(config.database.schema ? { schema: config.database.schema } : {}),
      }
    : { kind: 'sqlite', file: path.join(dataDir, 'fluxhost.db') }
  return {
    url,
    dataDir,
    fluxhost,
    clock,
    recordsEnv,
    recordsAt,
    openRecords: () => openStoreAt(recordsAt),
    waitForJob: (id) => fluxhost.services.jobs.wait(id, undefined, AbortSignal.timeout(20_000)),
    waitUntilRunning: (id) =>
      new Promise<Job>((resolve, reject) => {
        const check = () =>
          fluxhost.services.jobs.get(id, undefined).then((job) => {
            if (job.state !== 'running') return
            unsubscribe()
            resolve(job)
          }, reject)
        const unsubscribe = fluxhost.services.jobs.subscribe(id, () => void check())
        void check()
      }),
    async close() {
      await fluxhost.close(0)
      for (const cleanup of cleanups.splice(0)) await cleanup()
      if (!options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export interface ApiResponse<T = any> {
  status: number
  headers: Headers
  body: T
  text: string
}

/** A JSON request over real HTTP. */
export async function api<T = any>(
  url: string,
  init: {
    method?: string
    key?: string | null
    body?: unknown
    headers?: Record<string, string>
    rawBody?: string | Buffer
  } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...init.headers }
  if (init.key !== null) headers['x-key'] ??= init.key ?? KEY_A
  let body: string | Buffer | undefined
  if (init.rawBody !== undefined) body = init.rawBody
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body)
    headers['content-type'] ??= 'application/json'
  }
  const response = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // Not JSON; tests look at .text.
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text }
}

/** The status of a GET, after reading the whole body (an unread body keeps the connection busy). */
export async function fetchStatus(url: string, init?: RequestInit): Promise<number> {
  const response = await fetch(url, init)
  await response.arrayBuffer()
  return response.status
}
