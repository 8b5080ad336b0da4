import fs from 'node:fs'
import path from 'node:path'
import { ENGINE_MODELS, ENGINE_NAMES, ENGINE_PRICES_USD, type EngineName, PROVIDER_NAMES } from '../domain/engines.js'
import { MODEL_IDS, MODELS, type ModelId } from '../domain/models.js'
import { usdToMicros } from '../domain/money.js'
import type { RouteSpec } from '../domain/routing.js'
import { parseBlocklist } from './blocklist.js'
import { parseWorkflow } from './comfy-workflow.js'
import type { Config, WorkflowFile } from './config.js'
import { durationMs, SETTINGS, type SettingName } from './settings.js'

export type { Config, WorkflowFile } from './config.js'

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** Flag values from the command line, keyed by setting name; `undefined` means not given. */
export type FlagValues = Partial<Record<SettingName, string | boolean | undefined>>

export interface LoadOptions {
  /** What relative paths are relative to (default: the process's working directory). */
  cwd?: string
  /** Reads a file that a setting names (the blocklist, workflow templates); default: the disk. */
  readFile?: (file: string) => string
}

/** Environment variables fluxhost once read, and what replaced them. */
const RETIRED: Record<string, string> = {
  REDIS_URL:
    'REDIS_URL is set but no longer used: the jobs table is the queue, and job events travel ' +
    'over PostgreSQL LISTEN/NOTIFY (docs/deploy.md).',
  FLUXHOST_QUEUE: 'FLUXHOST_QUEUE is set but no longer used: the jobs table is the only queue.',
  FLUXHOST_REDIS_PREFIX: 'FLUXHOST_REDIS_PREFIX is set but no longer used: fluxhost does not use Redis.',
}

type Values = { [K in SettingName]: ReturnType<(typeof SETTINGS)[K]['parse']> }

/**
 * Builds the configuration from environment variables and command-line flags (flags win),
 * and reads the files they name. Reports every problem at once — bad values, settings that
 * contradict each other, files that are missing or malformed — in one ConfigError.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  flags: FlagValues = {},
  options: LoadOptions = {},
): Readonly<Config> {
  const { cwd = process.cwd(), readFile = (file: string) => fs.readFileSync(file, 'utf8') } = options
  const problems: string[] = []
  const values: Record<string, unknown> = {}
  let portFromPlatform = false
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const flag = flags[name as SettingName]
    // The name the value came from: the flag, its FLUXHOST_* variable, or a platform's (PORT).
    const source =
      flag !== undefined
        ? `--${setting.flag}`
        : env[setting.env] === undefined && 'fallbackEnv' in setting && env[setting.fallbackEnv] !== undefined
          ? setting.fallbackEnv
          : setting.env
    const raw = flag !== undefined ? String(flag) : env[source]
    values[name] = setting.default
    if (raw === undefined) continue
    if (source === 'PORT') portFromPlatform = true
    try {
      values[name] = setting.parse(raw)
    } catch (error) {
      problems.push(`${source} ${(error as Error).message}`)
    }
  }
  const v = values as Values
  // A platform that sets PORT routes to the container from outside: loopback would be unreachable.
  if (portFromPlatform && flags.host === undefined && env.FLUXHOST_HOST === undefined) v.host = '0.0.0.0'
  problems.push(...crossChecks(v))
  const read = <T>(variable: string, file: string, parse: (text: string) => T): T | null => {
    try {
      return parse(readFile(file))
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      problems.push(`${variable} ${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
      return null
    }
  }
  const workflow = (variable: string, name: string, role: 'text' | 'image-prompt'): WorkflowFile | null => {
    const file = path.resolve(cwd, name)
    const graph = read(variable, file, (text) => parseWorkflow(text, file, role))
    return graph && { file, graph }
  }
  const blocklistFile = v.promptBlocklist === null ? null : path.resolve(cwd, v.promptBlocklist)
  const blocklist = blocklistFile === null ? null : read('FLUXHOST_PROMPT_BLOCKLIST', blocklistFile, parseBlocklist)
  const comfyWorkflow =
    v.comfyuiUrl === null || v.comfyuiWorkflow === 'schnell' || v.comfyuiWorkflow === 'dev'
      ? v.comfyuiWorkflow
      : workflow('FLUXHOST_COMFYUI_WORKFLOW', v.comfyuiWorkflow, 'text')
  const img2img =
    v.comfyuiUrl === null || v.comfyuiImg2imgWorkflow === null
      ? null
      : workflow('FLUXHOST_COMFYUI_IMG2IMG_WORKFLOW', v.comfyuiImg2imgWorkflow, 'image-prompt')
  if (problems.length > 0) throw new ConfigError(problems)

  return Object.freeze(
    build(v, {
      cwd,
      env,
      blocklist: blocklistFile && blocklist ? { file: blocklistFile, terms: blocklist } : null,
      comfyWorkflow: comfyWorkflow as 'schnell' | 'dev' | WorkflowFile,
      img2img,
    }),
  )
}

/** Settings that are each valid but not together. */
function crossChecks(v: Values): string[] {
  const problems: string[] = []
  const needs = {
    bfl: ['FLUXHOST_BFL_API_KEY', v.bflApiKey],
    comfyui: ['FLUXHOST_COMFYUI_URL', v.comfyuiUrl],
    sdcpp: ['FLUXHOST_SDCPP_URL', v.sdcppUrl],
    fal: ['FLUXHOST_FAL_KEY', v.falKey],
    replicate: ['FLUXHOST_REPLICATE_TOKEN', v.replicateKey],
    together: ['FLUXHOST_TOGETHER_KEY', v.togetherKey],
    aiml: ['FLUXHOST_AIML_KEY', v.aimlKey],
    apiframe: ['FLUXHOST_APIFRAME_KEY', v.apiframeKey],
    seaart: ['FLUXHOST_SEAART_KEY', v.seaartKey],
  } as const
  for (const [model, route] of Object.entries(v.routes ?? {}) as [ModelId, RouteSpec][]) {
    for (const engine of route.engines) {
      const need = engine === 'preview' ? undefined : needs[engine]
      if (need && need[1] === null) problems.push(`FLUXHOST_ROUTES names ${engine}, but ${need[0]} is not set`)
      else if (!ENGINE_MODELS[engine].includes(model))
        problems.push(`FLUXHOST_ROUTES sends ${model} to ${engine}, which cannot serve it`)
    }
  }
  if (v.providerWebhooks && v.publicUrl === null)
    problems.push('FLUXHOST_PROVIDER_WEBHOOKS needs FLUXHOST_PUBLIC_URL: the address providers call back')
  if (durationMs(v.headersTimeout) > durationMs(v.requestTimeout))
    problems.push('FLUXHOST_HEADERS_TIMEOUT must not be longer than FLUXHOST_REQUEST_TIMEOUT')
  if ((v.s3AccessKeyId === null) !== (v.s3SecretAccessKey === null))
    problems.push('FLUXHOST_S3_ACCESS_KEY_ID and FLUXHOST_S3_SECRET_ACCESS_KEY go together: set both or neither')
  if (v.fileDelivery === 'redirect' && v.s3Bucket === null)
    problems.push(
      'FLUXHOST_FILE_DELIVERY=redirect needs FLUXHOST_S3_BUCKET: files on disk are always served by fluxhost',
    )
  return [...new Set(problems)]
}

function build(
  v: Values,
  read: {
    cwd: string
    env: Readonly<Record<string, string | undefined>>
    blocklist: Config['safety']['blocklist']
    comfyWorkflow: 'schnell' | 'dev' | WorkflowFile
    img2img: WorkflowFile | null
  },
): Config {
  const freeze = Object.freeze
  const pricesUsd = Object.fromEntries(MODEL_IDS.map((id) => [id, v.prices[id] ?? MODELS[id].priceUsd]))
  const s3Credentials =
    v.s3AccessKeyId && v.s3SecretAccessKey
      ? { accessKeyId: v.s3AccessKeyId, secretAccessKey: v.s3SecretAccessKey }
      : null
  const { env } = read
  return {
    host: v.host,
    port: v.port,
    dataDir: path.resolve(read.cwd, v.dataDir),
    s3:
      v.s3Bucket === null
        ? null
        : freeze({
            bucket: v.s3Bucket,
            prefix: v.s3Prefix,
            endpoint: v.s3Endpoint,
            region: v.s3Region,
            credentials: s3Credentials,
          }),
    fileDelivery: v.fileDelivery,
    fileUrlSecret: v.fileUrlSecret,
    retentionMs: v.retention,
    database:
      v.databaseUrl === null
        ? null
        : freeze({ url: v.databaseUrl, schema: v.databaseSchema, listen: v.databaseListen }),
    apiKeys: freeze([...v.apiKeys]),
    publicUrl: v.publicUrl,
    http: freeze({
      headersTimeoutMs: durationMs(v.headersTimeout),
      requestTimeoutMs: durationMs(v.requestTimeout),
      idleTimeoutMs: durationMs(v.idleTimeout),
      trustProxy: Array.isArray(v.trustProxy) ? freeze([...v.trustProxy]) : v.trustProxy,
      allowedHosts: freeze(v.allowedHosts.map((host) => host.toLowerCase())),
      metricsToken: v.metricsToken,
      corsOrigins: Array.isArray(v.corsOrigins) ? freeze([...v.corsOrigins]) : v.corsOrigins,
    }),
    keyLimits: freeze({
      ...(v.keyConcurrency === null ? {} : { concurrency: v.keyConcurrency }),
      ...(v.keyRpm === null ? {} : { rpm: v.keyRpm }),
      ...(v.keyBudget === null ? {} : { budget: { micros: usdToMicros(v.keyBudget.usd), period: v.keyBudget.period } }),
    }),
    worker: freeze({
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
    webhooks: freeze({
      scheduleMs: freeze(v.webhookRetrySchedule.map(durationMs)),
      timeoutMs: v.webhookTimeoutS * 1000,
      concurrency: v.webhookConcurrency,
    }),
    idempotencyTtlMs: durationMs(v.idempotencyTtl),
    routes: v.routes,
    bfl:
      v.bflApiKey === null
        ? null
        : freeze({ apiKey: v.bflApiKey, url: v.bflUrl, maxActive: v.bflMaxActive, pollMs: v.bflPollMs }),
    comfyui:
      v.comfyuiUrl === null
        ? null
        : freeze({
            url: v.comfyuiUrl,
            workflow: read.comfyWorkflow,
            img2imgWorkflow: read.img2img,
            maxQueued: v.comfyuiMaxQueued,
            pollMs: v.comfyuiPollMs,
          }),
    sdcpp: v.sdcppUrl === null ? null : freeze({ url: v.sdcppUrl, maxQueued: v.sdcppMaxQueued, steps: v.sdcppSteps }),
    providers: freeze(
      Object.fromEntries(
        PROVIDER_NAMES.map((name) => {
          const key = v[`${name}Key`]
          const provider = { key, url: v[`${name}Url`], maxActive: v.engineConcurrency[name] ?? 4 }
          return [name, key === null ? null : freeze(provider)]
        }),
      ) as Config['providers'],
    ),
    enginePricesUsd: freeze(enginePriceTable(v.enginePrices)),
    providerWebhooks: v.providerWebhooks,
    falJwksUrl: v.falJwksUrl,
    upsampler:
      v.upsamplerUrl === null ? null : freeze({ url: v.upsamplerUrl, model: v.upsamplerModel, key: v.upsamplerKey }),
    safety: freeze({ checker: v.safetyChecker, threads: v.safetyThreads, blocklist: read.blocklist }),
    bodyLimitBytes: v.bodyLimitBytes,
    pricesUsd: freeze(pricesUsd) as Record<ModelId, number>,
    previewSteps: v.previewSteps,
    logLevel: v.logLevel,
    notices: freeze(
      Object.keys(RETIRED)
        .filter((name) => env[name] !== undefined && env[name] !== '')
        .map((name) => RETIRED[name]!),
    ),
  }
}

/** The built-in engine prices with FLUXHOST_ENGINE_PRICES over them (`engine=usd` for every model it serves). */
function enginePriceTable(
  overrides: Partial<Record<EngineName, Partial<Record<ModelId | '*', number>>>>,
): Record<EngineName, Partial<Record<ModelId, number>>> {
  return Object.fromEntries(
    ENGINE_NAMES.map((engine) => {
      const given = overrides[engine] ?? {}
      const prices = Object.fromEntries(
        ENGINE_MODELS[engine].flatMap((model) => {
          const price = given[model] ?? given['*'] ?? ENGINE_PRICES_USD[engine][model]
          return price === undefined ? [] : [[model, price]]
        }),
      )
      return [engine, Object.freeze(prices)]
    }),
  ) as Record<EngineName, Partial<Record<ModelId, number>>>
}
