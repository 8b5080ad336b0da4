import { boolean, integer, optionalText, type Setting, schedule } from '../parsers.js'

/** Workers, leases, webhook deliveries and the safety checks they run. */
export const WORK_SETTINGS = {
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
  webhookRetrySchedule: {
    env: 'FLUXHOST_WEBHOOK_RETRY_SCHEDULE',
    flag: 'webhook-retry-schedule',
    kind: 'list',
    default: ['0', '5s', '5m', '30m', '2h', '5h', '10h', '14h', '20h', '24h'] as string[],
    describe:
      "When each webhook attempt is made, counted from the previous one (the first from the job's " +
      'end): as many attempts as delays. Units ms, s, m, h.',
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
      'Classify every output of a local engine (nsfwjs) and moderate it per safety_tolerance; requests ' +
      'can still turn it off where their API allows (enable_safety_checker).',
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
} as const satisfies Record<string, Setting<unknown>>
