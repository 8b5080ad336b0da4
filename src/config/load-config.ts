import path from 'node:path'
import { MODEL_IDS, MODELS, type ModelId } from '../domain/models.js'
import { durationMs, type LogLevel, SETTINGS, type SettingName } from './settings.js'

export interface Config {
  host: string
  port: number
  /** Absolute. Images (unless in a bucket), the server secret, and the SQLite records when there is no database. */
  dataDir: string
  /** null: images are files under the data dir. */
  s3: {
    bucket: string
    prefix: string
    endpoint: string | null
    region: string
    credentials: { accessKeyId: string; secretAccessKey: string } | null
  } | null
  /** With a bucket: fluxhost streams files (`proxy`) or redirects to a presigned URL. */
  fileDelivery: 'proxy' | 'redirect'
  /** null: the `secret` file in the data dir. */
  fileUrlSecret: string | null
  /** null: the records are in SQLite in the data dir. `listen`: job events over LISTEN/NOTIFY. */
  database: { url: string; schema: string | null; listen: boolean } | null
  apiKeys: readonly string[]
  publicUrl: string | null
  worker: {
    enabled: boolean
    concurrency: number
    leaseMs: number
    maxAttempts: number
    shutdownGraceMs: number
  }
  fileUrlTtlS: number
  allowSimulate: boolean
  allowPrivateUrls: boolean
  syncTimeoutS: number
  webhooks: {
    /** Delay before each attempt, in ms; its length is the number of attempts. */
    scheduleMs: readonly number[]
    timeoutMs: number
    concurrency: number
  }
  idempotencyTtlMs: number
  /** Engines per model from FLUXHOST_ROUTES; null: the default (bfl with a key, else preview). */
  routes: Partial<Record<ModelId, string[]>> | null
  /** null: BFL's cloud is not used. */
  bfl: { apiKey: string; url: string; maxActive: number; pollMs: number } | null
  /** null: no ComfyUI. `workflow` is `schnell`, `dev` or an absolute file path. */
  comfyui: { url: string; workflow: string; img2imgWorkflow: string | null; maxQueued: number; pollMs: number } | null
  /** null: no sd-server. */
  sdcpp: { url: string; maxQueued: number; steps: number | null } | null
  /** null: no upsampler; prompt_upsampling then applies only on engines that do it. */
  upsampler: { url: string; model: string; key: string | null } | null
  safety: {
    checker: boolean
    threads: number
    /** Absolute path, or null for the built-in list. */
    blocklistFile: string | null
  }
  bodyLimitBytes: number
  /** Per-image price in USD for every model (list price unless overridden). */
  pricesUsd: Readonly<Record<ModelId, number>>
  previewSteps: number
  logLevel: LogLevel
  /** Settings that were given but are no longer read, each with what to do instead. */
  notices: readonly string[]
}

/** Environment variables fluxhost once read, and what replaced them. */
const RETIRED: Record<string, string> = {
  REDIS_URL:
    'REDIS_URL is set but no longer used: the jobs table is the queue, and job events travel over PostgreSQL LISTEN/NOTIFY (docs/deploy.md).',
  FLUXHOST_QUEUE: 'FLUXHOST_QUEUE is set but no longer used: the jobs table is the only queue.',
  FLUXHOST_REDIS_PREFIX: 'FLUXHOST_REDIS_PREFIX is set but no longer used: fluxhost does not use Redis.',
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** Flag values from the command line, keyed by setting name; `undefined` means not given. */
export type FlagValues = Partial<Record<SettingName, string | boolean | undefined>>

/**
 * Builds the configuration from environment variables and command-line flags (flags win).
 * Pure: reads nothing but its arguments. Reports every invalid key at once.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  flags: FlagValues = {},
  cwd: string = process.cwd(),
): Readonly<Config> {
  const problems: string[] = []
  const values: Record<string, unknown> = {}
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const flag = flags[name as SettingName]
    const raw = flag !== undefined ? String(flag) : env[setting.env]
    if (raw === undefined) {
      values[name] = setting.default
      continue
    }
    try {
      values[name] = setting.parse(raw)
    } catch (error) {
      const source = flag !== undefined ? `--${setting.flag}` : setting.env
      problems.push(`${source} ${(error as Error).message}`)
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)

  const v = values as { [K in SettingName]: ReturnType<(typeof SETTINGS)[K]['parse']> }
  const needs = {
    bfl: ['FLUXHOST_BFL_API_KEY', v.bflApiKey],
    comfyui: ['FLUXHOST_COMFYUI_URL', v.comfyuiUrl],
    sdcpp: ['FLUXHOST_SDCPP_URL', v.sdcppUrl],
  } as const
  for (const [engine, [variable, value]] of Object.entries(needs)) {
    if (v.routes && value === null && Object.values(v.routes).some((engines) => engines?.includes(engine))) {
      throw new ConfigError([`FLUXHOST_ROUTES names ${engine}, but ${variable} is not set`])
    }
  }
  if ((v.s3AccessKeyId === null) !== (v.s3SecretAccessKey === null)) {
    throw new ConfigError([
      'FLUXHOST_S3_ACCESS_KEY_ID and FLUXHOST_S3_SECRET_ACCESS_KEY go together: set both or neither',
    ])
  }
  if (v.fileDelivery === 'redirect' && v.s3Bucket === null) {
    throw new ConfigError([
      'FLUXHOST_FILE_DELIVERY=redirect needs FLUXHOST_S3_BUCKET: files on disk are always served by fluxhost',
    ])
  }
  const workflowFile = (name: string) => (name === 'schnell' || name === 'dev' ? name : path.resolve(cwd, name))
  const pricesUsd = Object.fromEntries(MODEL_IDS.map((id) => [id, v.prices[id] ?? MODELS[id].priceUsd])) as Record<
    ModelId,
    number
  >

  const config: Config = {
    host: v.host,
    port: v.port,
    dataDir: path.resolve(cwd, v.dataDir),
    s3:
      v.s3Bucket === null
        ? null
        : Object.freeze({
            bucket: v.s3Bucket,
            prefix: v.s3Prefix,
            endpoint: v.s3Endpoint,
            region: v.s3Region,
            credentials:
              v.s3AccessKeyId && v.s3SecretAccessKey
                ? { accessKeyId: v.s3AccessKeyId, secretAccessKey: v.s3SecretAccessKey }
                : null,
          }),
    fileDelivery: v.fileDelivery,
    fileUrlSecret: v.fileUrlSecret,
    database:
      v.databaseUrl === null
        ? null
        : Object.freeze({ url: v.databaseUrl, schema: v.databaseSchema, listen: v.databaseListen }),
    apiKeys: Object.freeze([...v.apiKeys]),
    publicUrl: v.publicUrl,
    worker: Object.freeze({
      enabled: v.worker,
      concurrency: v.workerConcurrency,
      leaseMs: v.leaseMs,
      maxAttempts: v.maxAttempts,
      shutdownGraceMs: v.shutdownGraceMs,
    }),
    fileUrlTtlS: v.fileUrlTtlS,
    allowSimulate: v.allowSimulate,
    allowPrivateUrls: v.allowPrivateUrls,
    syncTimeoutS: v.syncTimeoutS,
    webhooks: Object.freeze({
      scheduleMs: Object.freeze(v.webhookRetrySchedule.map(durationMs)),
      timeoutMs: v.webhookTimeoutS * 1000,
      concurrency: v.webhookConcurrency,
    }),
    idempotencyTtlMs: durationMs(v.idempotencyTtl),
    routes: v.routes,
    bfl:
      v.bflApiKey === null
        ? null
        : Object.freeze({ apiKey: v.bflApiKey, url: v.bflUrl, maxActive: v.bflMaxActive, pollMs: v.bflPollMs }),
    comfyui:
      v.comfyuiUrl === null
        ? null
        : Object.freeze({
            url: v.comfyuiUrl,
            workflow: workflowFile(v.comfyuiWorkflow),
            img2imgWorkflow: v.comfyuiImg2imgWorkflow === null ? null : path.resolve(cwd, v.comfyuiImg2imgWorkflow),
            maxQueued: v.comfyuiMaxQueued,
            pollMs: v.comfyuiPollMs,
          }),
    sdcpp:
      v.sdcppUrl === null ? null : Object.freeze({ url: v.sdcppUrl, maxQueued: v.sdcppMaxQueued, steps: v.sdcppSteps }),
    upsampler:
      v.upsamplerUrl === null
        ? null
        : Object.freeze({ url: v.upsamplerUrl, model: v.upsamplerModel, key: v.upsamplerKey }),
    safety: Object.freeze({
      checker: v.safetyChecker,
      threads: v.safetyThreads,
      blocklistFile: v.promptBlocklist === null ? null : path.resolve(cwd, v.promptBlocklist),
    }),
    bodyLimitBytes: v.bodyLimitBytes,
    pricesUsd: Object.freeze(pricesUsd),
    previewSteps: v.previewSteps,
    logLevel: v.logLevel,
    notices: Object.freeze(
      Object.keys(RETIRED)
        .filter((name) => env[name] !== undefined && env[name] !== '')
        .map((name) => RETIRED[name]!),
    ),
  }
  return Object.freeze(config)
}
