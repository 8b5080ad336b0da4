import { MODEL_IDS, MODELS, type ModelId } from '../../domain/models.js'
import {
  boolean,
  duration,
  integer,
  LOG_LEVELS,
  type LogLevel,
  list,
  logLevel,
  prices,
  publicUrl,
  type Setting,
  text,
} from '../parsers.js'

/** The HTTP server, API keys, limits, prices and logs. */
export const SERVER_SETTINGS = {
  host: {
    env: 'FLUXHOST_HOST',
    flag: 'host',
    kind: 'string',
    default: '127.0.0.1',
    describe: 'Address the HTTP server listens on (default 0.0.0.0 when the port comes from PORT).',
    parse: text,
  },
  port: {
    env: 'FLUXHOST_PORT',
    fallbackEnv: 'PORT',
    flag: 'port',
    kind: 'integer',
    default: 8080,
    describe:
      'TCP port the HTTP server listens on (0 picks a free one); when unset, PORT (as platforms like ' +
      'Heroku, Render and Cloud Run set it), and then the server listens on 0.0.0.0 unless ' +
      'FLUXHOST_HOST says otherwise.',
    parse: integer(0, 65535),
  },
  publicUrl: {
    env: 'FLUXHOST_PUBLIC_URL',
    flag: 'public-url',
    kind: 'string',
    default: null as string | null,
    describe: "Base URL clients reach the server at, for polling and file URLs (default: from each request's Host).",
    parse: publicUrl,
  },
  apiKeys: {
    env: 'FLUXHOST_API_KEYS',
    flag: 'api-keys',
    kind: 'list',
    default: [] as string[],
    describe: 'Comma-separated static API keys accepted besides the keys in the database.',
    parse: list,
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
    describe:
      'Largest body in bytes of the routes that take an inline base64 image (BFL, SeaArt); every other ' +
      'route takes at most 256 KiB.',
    parse: integer(1024, 1024 * 1024 * 1024),
  },
  prices: {
    env: 'FLUXHOST_PRICES',
    flag: 'prices',
    kind: 'map',
    default: {} as Partial<Record<ModelId, number>>,
    describe:
      `Per-image prices in USD overriding the list prices, e.g. ` +
      `\`${MODEL_IDS[0]}=${MODELS['flux-pro-1.1'].priceUsd}\`.`,
    parse: prices,
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
