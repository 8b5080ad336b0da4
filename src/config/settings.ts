import { isModelId, MODEL_IDS, MODELS, type ModelId } from '../domain/models.js'

/** One configuration key: its env name, flag, default, help line and parser. */
export interface Setting<T> {
  /** FLUXHOST_*, or the names every deployment tool already uses (DATABASE_URL). */
  env: `FLUXHOST_${string}` | 'DATABASE_URL'
  /** Long flag name without dashes; booleans also get `--no-<flag>`. */
  flag: string
  kind: 'string' | 'integer' | 'boolean' | 'list' | 'map'
  default: T
  describe: string
  parse(raw: string): T
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

function integer(min: number, max: number) {
  return (raw: string): number => {
    const value = Number(raw.trim())
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value))
      throw new Error(`must be a whole number, got '${raw}'`)
    if (value < min || value > max) throw new Error(`must be between ${min} and ${max}, got ${value}`)
    return value
  }
}

function boolean(raw: string): boolean {
  const value = raw.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off', ''].includes(value)) return false
  throw new Error(`must be true or false (or 1/0), got '${raw}'`)
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
}

function text(raw: string): string {
  return raw.trim()
}

function optionalText(raw: string): string | null {
  return raw.trim() === '' ? null : raw.trim()
}

function publicUrl(raw: string): string | null {
  const value = raw.trim()
  if (value === '') return null
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(`must be an absolute http(s) URL, got '${raw}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`must be an http or https URL, got '${raw}'`)
  if (url.search || url.hash) throw new Error('must not have a query or fragment')
  return url.toString().replace(/\/+$/, '')
}

/** BFL's hosts by name: the global one routes anywhere; eu and us stay in their region. */
function s3Prefix(raw: string): string {
  const value = raw.trim().replace(/^\/+/, '')
  if (value !== '' && !/^[A-Za-z0-9_.\-/]+\/$/.test(value))
    throw new Error(`must be letters, digits, _ . - and /, ending in /, got '${raw}'`)
  return value
}

function fileDelivery(raw: string): 'proxy' | 'redirect' {
  const value = raw.trim().toLowerCase()
  if (value !== 'proxy' && value !== 'redirect') throw new Error(`must be proxy or redirect, got '${raw}'`)
  return value
}

function hexSecret(raw: string): string | null {
  const value = raw.trim().toLowerCase()
  if (value === '') return null
  if (!/^[0-9a-f]{64}$/.test(value)) throw new Error('must be 64 hex digits (32 random bytes: `openssl rand -hex 32`)')
  return value
}

/** A service's URL (postgres://…): one of `protocols`, or null when empty. */
function serviceUrl(protocols: readonly string[], example: string) {
  return (raw: string): string | null => {
    const value = raw.trim()
    if (value === '') return null
    let url: URL
    try {
      url = new URL(value)
    } catch {
      throw new Error(`must be a URL like ${example}`)
    }
    if (!protocols.includes(url.protocol))
      throw new Error(`must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL, got '${url.protocol}//…'`)
    return value
  }
}

const postgresUrl = serviceUrl(['postgres:', 'postgresql:'], 'postgres://user:password@host:5432/database')

function schemaName(raw: string): string | null {
  const value = raw.trim()
  if (value === '') return null
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value))
    throw new Error(`must be a lower-case SQL identifier (letters, digits, _), got '${raw}'`)
  return value
}

export const BFL_HOSTS = {
  global: 'https://api.bfl.ai',
  eu: 'https://api.eu.bfl.ai',
  us: 'https://api.us.bfl.ai',
} as const

function bflUrl(raw: string): string {
  const name = raw.trim().toLowerCase()
  if (Object.hasOwn(BFL_HOSTS, name)) return BFL_HOSTS[name as keyof typeof BFL_HOSTS]
  const url = publicUrl(raw)
  if (url === null) throw new Error('must not be empty')
  return url
}

export const ENGINE_NAMES = ['preview', 'bfl', 'comfyui', 'sdcpp'] as const

function routes(raw: string): Partial<Record<ModelId, string[]>> | null {
  if (raw.trim() === '') return null
  const out: Partial<Record<ModelId, string[]>> = {}
  for (const part of raw
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [model, engines, ...rest] = part.split('=').map((p) => p.trim())
    if (!model || engines === undefined || rest.length > 0)
      throw new Error(`expected model=engine,engine, got '${part}'`)
    if (!isModelId(model)) throw new Error(`unknown model '${model}'; models: ${MODEL_IDS.join(', ')}`)
    const names = list(engines)
    if (names.length === 0) throw new Error(`no engine listed for ${model}`)
    for (const name of names) {
      if (!(ENGINE_NAMES as readonly string[]).includes(name))
        throw new Error(`unknown engine '${name}'; engines: ${ENGINE_NAMES.join(', ')}`)
    }
    out[model] = names
  }
  return out
}

function prices(raw: string): Partial<Record<ModelId, number>> {
  const out: Partial<Record<ModelId, number>> = {}
  for (const pair of list(raw)) {
    const [model, usd, ...rest] = pair.split('=').map((part) => part.trim())
    if (!model || usd === undefined || rest.length > 0) throw new Error(`expected model=usd pairs, got '${pair}'`)
    if (!isModelId(model)) throw new Error(`unknown model '${model}'; models: ${MODEL_IDS.join(', ')}`)
    const price = Number(usd)
    if (!Number.isFinite(price) || price < 0 || usd === '')
      throw new Error(`price for ${model} must be a number of US dollars ≥ 0, got '${usd}'`)
    out[model] = price
  }
  return out
}

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/** `250ms`, `5s`, `30m`, `2h`, or a bare number of seconds, to milliseconds. */
export function durationMs(token: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(token.trim())
  if (!match) throw new Error(`'${token}' is not a duration like 0, 500ms, 5s, 5m or 2h`)
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[(match[2] ?? 's') as keyof typeof DURATION_UNITS_MS])
}

function duration(minMs: number, maxMs: number) {
  return (raw: string): string => {
    const ms = durationMs(raw)
    if (ms < minMs || ms > maxMs)
      throw new Error(`must be between ${minMs / 1000} s and ${maxMs / 3_600_000} h, got '${raw}'`)
    return raw.trim()
  }
}

function schedule(raw: string): string[] {
  const tokens = list(raw)
  if (tokens.length === 0 || tokens.length > 50) throw new Error('must list 1 to 50 delays, e.g. 0,5s,5m,30m')
  for (const token of tokens) {
    if (durationMs(token) > 7 * 24 * 3_600_000) throw new Error(`'${token}' is longer than 7 days`)
  }
  return tokens
}

function logLevel(raw: string): LogLevel {
  const value = raw.trim().toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new Error(`must be one of ${LOG_LEVELS.join(', ')}`)
  return value as LogLevel
}

/**
 * Every configuration key. `docs/configuration.md` and `--help` are checked against this
 * table by a test, so a key cannot be added without its documentation.
 */
export const SETTINGS = {
  host: {
    env: 'FLUXHOST_HOST',
    flag: 'host',
    kind: 'string',
    default: '127.0.0.1',
    describe: 'Address the HTTP server listens on.',
    parse: text,
  },
  port: {
    env: 'FLUXHOST_PORT',
    flag: 'port',
    kind: 'integer',
    default: 8080,
    describe: 'TCP port the HTTP server listens on (0 picks a free one).',
    parse: integer(0, 65535),
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    flag: 'database-url',
    kind: 'string',
    default: null as string | null,
    describe:
      'postgres://user:pass@host:5432/db: keep the records (jobs, keys, charges, webhooks) in PostgreSQL instead of SQLite in the data dir; many fluxhost processes can share it.',
    parse: postgresUrl,
  },
  databaseSchema: {
    env: 'FLUXHOST_DATABASE_SCHEMA',
    flag: 'database-schema',
    kind: 'string',
    default: null as string | null,
    describe:
      "PostgreSQL schema for fluxhost's tables (default: the connection's search_path, normally public); created if missing.",
    parse: schemaName,
  },
  databaseListen: {
    env: 'FLUXHOST_DATABASE_LISTEN',
    flag: 'database-listen',
    kind: 'boolean',
    default: true,
    describe:
      'With DATABASE_URL: one connection per process LISTENs for job events (new jobs wake idle workers at once; progress and cancels reach every process). Turn off behind a pooler that cannot LISTEN (PgBouncer in transaction mode): workers then find new jobs by polling, once a second.',
    parse: boolean,
  },
  s3Bucket: {
    env: 'FLUXHOST_S3_BUCKET',
    flag: 's3-bucket',
    kind: 'string',
    default: null as string | null,
    describe:
      'Keep the images (outputs and image prompts) in this S3-compatible bucket instead of the data dir; every process that serves or makes images must reach it.',
    parse: optionalText,
  },
  s3Prefix: {
    env: 'FLUXHOST_S3_PREFIX',
    flag: 's3-prefix',
    kind: 'string',
    default: '',
    describe: 'Key prefix inside the bucket (e.g. `fluxhost/`).',
    parse: s3Prefix,
  },
  s3Endpoint: {
    env: 'FLUXHOST_S3_ENDPOINT',
    flag: 's3-endpoint',
    kind: 'string',
    default: null as string | null,
    describe: 'An S3-compatible endpoint (MinIO, R2, …; path-style URLs); default: AWS S3 in FLUXHOST_S3_REGION.',
    parse: publicUrl,
  },
  s3Region: {
    env: 'FLUXHOST_S3_REGION',
    flag: 's3-region',
    kind: 'string',
    default: 'us-east-1',
    describe: "The bucket's region.",
    parse: text,
  },
  s3AccessKeyId: {
    env: 'FLUXHOST_S3_ACCESS_KEY_ID',
    flag: 's3-access-key-id',
    kind: 'string',
    default: null as string | null,
    describe: "Access key for the bucket; default: the AWS SDK's own chain (AWS_ACCESS_KEY_ID, instance roles, …).",
    parse: optionalText,
  },
  s3SecretAccessKey: {
    env: 'FLUXHOST_S3_SECRET_ACCESS_KEY',
    flag: 's3-secret-access-key',
    kind: 'string',
    default: null as string | null,
    describe: 'Secret for FLUXHOST_S3_ACCESS_KEY_ID.',
    parse: optionalText,
  },
  fileDelivery: {
    env: 'FLUXHOST_FILE_DELIVERY',
    flag: 'file-delivery',
    kind: 'string',
    default: 'proxy' as 'proxy' | 'redirect',
    describe:
      "How fluxhost's signed file URLs serve images kept in a bucket: `proxy` (fluxhost streams them) or `redirect` (302 to a presigned bucket URL, so the bytes come from the bucket).",
    parse: fileDelivery,
  },
  fileUrlSecret: {
    env: 'FLUXHOST_FILE_URL_SECRET',
    flag: 'file-url-secret',
    kind: 'string',
    default: null as string | null,
    describe:
      'The secret (64 hex digits) that signs file URLs. Default: with DATABASE_URL, one made at first start and kept in the records, shared by every process; else `secret` in the data dir.',
    parse: hexSecret,
  },
  dataDir: {
    env: 'FLUXHOST_DATA_DIR',
    flag: 'data-dir',
    kind: 'string',
    default: './.fluxhost',
    describe: 'Where the SQLite database, the images and the server secret live.',
    parse: text,
  },
  apiKeys: {
    env: 'FLUXHOST_API_KEYS',
    flag: 'api-keys',
    kind: 'list',
    default: [] as string[],
    describe: 'Comma-separated static API keys accepted besides the keys in the database.',
    parse: list,
  },
  publicUrl: {
    env: 'FLUXHOST_PUBLIC_URL',
    flag: 'public-url',
    kind: 'string',
    default: null as string | null,
    describe: "Base URL clients reach the server at, for polling and file URLs (default: from each request's Host).",
    parse: publicUrl,
  },
  worker: {
    env: 'FLUXHOST_WORKER',
    flag: 'worker',
    kind: 'boolean',
    default: true,
    describe: 'Run workers in this process (`--no-worker` serves the API only).',
    parse: boolean,
  },
  workerConcurrency: {
    env: 'FLUXHOST_WORKER_CONCURRENCY',
    flag: 'worker-concurrency',
    kind: 'integer',
    default: 2,
    describe: 'Jobs one process generates at the same time.',
    parse: integer(1, 256),
  },
  leaseMs: {
    env: 'FLUXHOST_LEASE_MS',
    flag: 'lease-ms',
    kind: 'integer',
    default: 30_000,
    describe:
      "How long a worker's claim on a job lasts without a heartbeat; a job whose worker died is re-queued after it.",
    parse: integer(500, 3_600_000),
  },
  maxAttempts: {
    env: 'FLUXHOST_MAX_ATTEMPTS',
    flag: 'max-attempts',
    kind: 'integer',
    default: 3,
    describe: 'Attempts a job gets (worker crashes, retryable engine errors) before it fails.',
    parse: integer(1, 100),
  },
  shutdownGraceMs: {
    env: 'FLUXHOST_SHUTDOWN_GRACE_MS',
    flag: 'shutdown-grace-ms',
    kind: 'integer',
    default: 10_000,
    describe: 'On SIGINT/SIGTERM, how long running jobs may take to finish before they are re-queued.',
    parse: integer(0, 3_600_000),
  },
  fileUrlTtlS: {
    env: 'FLUXHOST_FILE_URL_TTL',
    flag: 'file-url-ttl',
    kind: 'integer',
    default: 3600,
    describe: 'Seconds a signed image URL stays valid.',
    parse: integer(1, 7 * 24 * 3600),
  },
  allowSimulate: {
    env: 'FLUXHOST_ALLOW_SIMULATE',
    flag: 'allow-simulate',
    kind: 'boolean',
    default: false,
    describe: 'Honour X-Fluxhost-Simulate for every engine, not only preview.',
    parse: boolean,
  },
  allowPrivateUrls: {
    env: 'FLUXHOST_ALLOW_PRIVATE_URLS',
    flag: 'allow-private-urls',
    kind: 'boolean',
    default: false,
    describe:
      'Let image-prompt and webhook URLs reach loopback, private and link-local addresses (for local testing only).',
    parse: boolean,
  },
  syncTimeoutS: {
    env: 'FLUXHOST_SYNC_TIMEOUT_S',
    flag: 'sync-timeout',
    kind: 'integer',
    default: 300,
    describe:
      'Seconds the synchronous endpoint (/v1/images/generations) waits for a job before answering 504 with its id.',
    parse: integer(1, 3600),
  },
  webhookRetrySchedule: {
    env: 'FLUXHOST_WEBHOOK_RETRY_SCHEDULE',
    flag: 'webhook-retry-schedule',
    kind: 'list',
    default: ['0', '5s', '5m', '30m', '2h', '5h', '10h', '14h', '20h', '24h'] as string[],
    describe:
      "When each webhook attempt is made, counted from the previous one (the first from the job's end): as many attempts as delays. Units ms, s, m, h.",
    parse: schedule,
  },
  webhookTimeoutS: {
    env: 'FLUXHOST_WEBHOOK_TIMEOUT_S',
    flag: 'webhook-timeout',
    kind: 'integer',
    default: 10,
    describe: 'Seconds a webhook receiver has to answer before the attempt counts as failed.',
    parse: integer(1, 120),
  },
  webhookConcurrency: {
    env: 'FLUXHOST_WEBHOOK_CONCURRENCY',
    flag: 'webhook-concurrency',
    kind: 'integer',
    default: 16,
    describe: 'Webhook deliveries one process makes at the same time.',
    parse: integer(1, 1000),
  },
  safetyChecker: {
    env: 'FLUXHOST_SAFETY_CHECKER',
    flag: 'safety-checker',
    kind: 'boolean',
    default: true,
    describe:
      'Classify every output of a local engine (nsfwjs) and moderate it per safety_tolerance; requests can still turn it off where their API allows (enable_safety_checker).',
    parse: boolean,
  },
  safetyThreads: {
    env: 'FLUXHOST_SAFETY_THREADS',
    flag: 'safety-threads',
    kind: 'integer',
    default: 1,
    describe: 'Worker threads running the output classifier (about 100 ms and 60 MB each).',
    parse: integer(1, 16),
  },
  promptBlocklist: {
    env: 'FLUXHOST_PROMPT_BLOCKLIST',
    flag: 'prompt-blocklist',
    kind: 'string',
    default: null as string | null,
    describe:
      'A file of blocked prompt terms (`term` or `term = highest tolerance blocked at`) replacing the built-in list.',
    parse: optionalText,
  },
  bflApiKey: {
    env: 'FLUXHOST_BFL_API_KEY',
    flag: 'bfl-api-key',
    kind: 'string',
    default: null as string | null,
    describe:
      "Black Forest Labs API key: with it, flux-pro-1.1 is generated by BFL's cloud instead of the preview engine.",
    parse: optionalText,
  },
  bflUrl: {
    env: 'FLUXHOST_BFL_URL',
    flag: 'bfl-url',
    kind: 'string',
    default: 'https://api.bfl.ai',
    describe:
      "BFL's API host: `global` (https://api.bfl.ai), `eu` (https://api.eu.bfl.ai), `us` (https://api.us.bfl.ai), or a URL.",
    parse: bflUrl,
  },
  bflMaxActive: {
    env: 'FLUXHOST_BFL_MAX_ACTIVE',
    flag: 'bfl-max-active',
    kind: 'integer',
    default: 24,
    describe: "BFL tasks in flight at once from this process (BFL's account limit is 24 by default).",
    parse: integer(1, 1000),
  },
  bflPollMs: {
    env: 'FLUXHOST_BFL_POLL_MS',
    flag: 'bfl-poll-ms',
    kind: 'integer',
    default: 500,
    describe: 'First delay before polling a BFL task; it grows ×1.5 to 1 s (or this, if longer).',
    parse: integer(10, 60_000),
  },
  comfyuiUrl: {
    env: 'FLUXHOST_COMFYUI_URL',
    flag: 'comfyui-url',
    kind: 'string',
    default: null as string | null,
    describe:
      'A ComfyUI server (e.g. http://127.0.0.1:8188) that generates with open FLUX.1 weights; the `comfyui` engine.',
    parse: publicUrl,
  },
  comfyuiWorkflow: {
    env: 'FLUXHOST_COMFYUI_WORKFLOW',
    flag: 'comfyui-workflow',
    kind: 'string',
    default: 'schnell',
    describe:
      'The ComfyUI workflow: `schnell` or `dev` (built in, see docs/engines.md), or an API-format JSON file with {{prompt}}, {{seed}}, {{width}}, {{height}}, {{steps}}, {{guidance}}, {{batch_size}} placeholders.',
    parse: text,
  },
  comfyuiImg2imgWorkflow: {
    env: 'FLUXHOST_COMFYUI_IMG2IMG_WORKFLOW',
    flag: 'comfyui-img2img-workflow',
    kind: 'string',
    default: null as string | null,
    describe:
      'API-format JSON file used for requests with an image prompt (needs {{image}}, and {{denoise}} = 1 − strength); the built-in workflows have their own.',
    parse: optionalText,
  },
  comfyuiMaxQueued: {
    env: 'FLUXHOST_COMFYUI_MAX_QUEUED',
    flag: 'comfyui-max-queued',
    kind: 'integer',
    default: 2,
    describe:
      "Prompts this process keeps in ComfyUI's queue at once (one running, one ready); the rest wait in fluxhost's queue, where they can still be canceled or fail over.",
    parse: integer(1, 1000),
  },
  comfyuiPollMs: {
    env: 'FLUXHOST_COMFYUI_POLL_MS',
    flag: 'comfyui-poll-ms',
    kind: 'integer',
    default: 1000,
    describe:
      "How often ComfyUI's /history is read while its websocket is down (5× less often while it is up, in case an event was missed).",
    parse: integer(10, 60_000),
  },
  sdcppUrl: {
    env: 'FLUXHOST_SDCPP_URL',
    flag: 'sdcpp-url',
    kind: 'string',
    default: null as string | null,
    describe:
      "stable-diffusion.cpp's sd-server (e.g. http://127.0.0.1:1234), used through its native async API; the `sdcpp` engine.",
    parse: publicUrl,
  },
  sdcppMaxQueued: {
    env: 'FLUXHOST_SDCPP_MAX_QUEUED',
    flag: 'sdcpp-max-queued',
    kind: 'integer',
    default: 2,
    describe: "Jobs this process keeps in sd-server's queue at once (sd-server holds 64 before it answers 429).",
    parse: integer(1, 1000),
  },
  sdcppSteps: {
    env: 'FLUXHOST_SDCPP_STEPS',
    flag: 'sdcpp-steps',
    kind: 'integer',
    default: null as number | null,
    describe:
      "Sampling steps sent to sd-server when the request names none (default: sd-server's own, from its --steps).",
    parse: integer(1, 150),
  },
  routes: {
    env: 'FLUXHOST_ROUTES',
    flag: 'routes',
    kind: 'string',
    default: null as Partial<Record<ModelId, string[]>> | null,
    describe:
      'Which engines serve each model, in failover order, e.g. `flux-pro-1.1=bfl,preview` (models separated by `;`). Default: every configured engine in the order bfl, comfyui, sdcpp; preview when none is.',
    parse: routes,
  },
  upsamplerUrl: {
    env: 'FLUXHOST_UPSAMPLER_URL',
    flag: 'upsampler-url',
    kind: 'string',
    default: null as string | null,
    describe:
      'Base URL of an OpenAI-compatible API (…/v1) whose chat completions rewrite prompts for prompt_upsampling on engines that cannot.',
    parse: publicUrl,
  },
  upsamplerModel: {
    env: 'FLUXHOST_UPSAMPLER_MODEL',
    flag: 'upsampler-model',
    kind: 'string',
    default: 'gpt-4o-mini',
    describe: 'The chat model the upsampler asks.',
    parse: text,
  },
  upsamplerKey: {
    env: 'FLUXHOST_UPSAMPLER_KEY',
    flag: 'upsampler-key',
    kind: 'string',
    default: null as string | null,
    describe: 'Bearer key for the upsampler, if it needs one.',
    parse: optionalText,
  },
  idempotencyTtl: {
    env: 'FLUXHOST_IDEMPOTENCY_TTL',
    flag: 'idempotency-ttl',
    kind: 'string',
    default: '24h',
    describe: 'How long an Idempotency-Key and its answer are kept for replays (units ms, s, m, h).',
    parse: duration(1000, 30 * 24 * 3_600_000),
  },
  bodyLimitBytes: {
    env: 'FLUXHOST_BODY_LIMIT',
    flag: 'body-limit',
    kind: 'integer',
    default: 30 * 1024 * 1024,
    describe: 'Largest request body in bytes (base64 image prompts are large).',
    parse: integer(1024, 1024 * 1024 * 1024),
  },
  prices: {
    env: 'FLUXHOST_PRICES',
    flag: 'prices',
    kind: 'map',
    default: {} as Partial<Record<ModelId, number>>,
    describe: `Per-image prices in USD overriding the list prices, e.g. \`${MODEL_IDS[0]}=${MODELS['flux-pro-1.1'].priceUsd}\`.`,
    parse: prices,
  },
  previewSteps: {
    env: 'FLUXHOST_PREVIEW_STEPS',
    flag: 'preview-steps',
    kind: 'integer',
    default: 8,
    describe: 'Progress steps the preview engine reports per image.',
    parse: integer(1, 100),
  },
  logLevel: {
    env: 'FLUXHOST_LOG_LEVEL',
    flag: 'log-level',
    kind: 'string',
    default: 'info' as LogLevel,
    describe: `Log level: ${LOG_LEVELS.join(', ')}.`,
    parse: logLevel,
  },
} as const satisfies Record<string, Setting<unknown>>

export type SettingName = keyof typeof SETTINGS
