import {
  boolean,
  fileDelivery,
  hexSecret,
  optionalText,
  postgresUrl,
  publicUrl,
  retention,
  type Setting,
  s3Prefix,
  schemaName,
  text,
} from '../parsers.js'

/** Where records and images live: the data dir, PostgreSQL, an S3 bucket, file URLs. */
export const STORAGE_SETTINGS = {
  dataDir: {
    env: 'FLUXHOST_DATA_DIR',
    flag: 'data-dir',
    kind: 'string',
    default: './.fluxhost',
    describe: 'Where the SQLite database, the images and the server secret live.',
    parse: text,
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    flag: 'database-url',
    kind: 'string',
    default: null as string | null,
    describe:
      'postgres://user:pass@host:5432/db: keep the records (jobs, keys, charges, webhooks) in ' +
      'PostgreSQL instead of SQLite in the data dir; many fluxhost processes can share it.',
    parse: postgresUrl,
  },
  databaseSchema: {
    env: 'FLUXHOST_DATABASE_SCHEMA',
    flag: 'database-schema',
    kind: 'string',
    default: null as string | null,
    describe:
      "PostgreSQL schema for fluxhost's tables (default: the connection's search_path, normally " +
      'public); created if missing.',
    parse: schemaName,
  },
  databaseListen: {
    env: 'FLUXHOST_DATABASE_LISTEN',
    flag: 'database-listen',
    kind: 'boolean',
    default: true,
    describe:
      'With DATABASE_URL: one connection per process LISTENs for job events (new jobs wake idle ' +
      'workers at once; progress and cancels reach every process). Turn off behind a pooler that ' +
      'cannot LISTEN (PgBouncer in transaction mode): this process then finds new jobs by polling, ' +
      'once a second, and still notifies the others.',
    parse: boolean,
  },
  s3Bucket: {
    env: 'FLUXHOST_S3_BUCKET',
    flag: 's3-bucket',
    kind: 'string',
    default: null as string | null,
    describe:
      'Keep the images (outputs and image prompts) in this S3-compatible bucket instead of the data ' +
      'dir; every process that serves or makes images must reach it.',
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
      "How fluxhost's signed file URLs serve images kept in a bucket: `proxy` (fluxhost streams them) " +
      'or `redirect` (302 to a presigned bucket URL, so the bytes come from the bucket).',
    parse: fileDelivery,
  },
  fileUrlSecret: {
    env: 'FLUXHOST_FILE_URL_SECRET',
    flag: 'file-url-secret',
    kind: 'string',
    default: null as string | null,
    describe:
      'The secret (64 hex digits) that signs file URLs. Default: with DATABASE_URL, one made at first ' +
      'start and kept in the records, shared by every process; else `secret` in the data dir.',
    parse: hexSecret,
  },
  retention: {
    env: 'FLUXHOST_RETENTION',
    flag: 'retention',
    kind: 'string',
    default: null as number | null,
    describe:
      'Keep finished jobs this long (`30d`, `12h`; unset or `off`: forever). Older ones lose their images and have ' +
      'their prompt and inputs scrubbed (charges and usage stay); finished webhook deliveries go too. The server ' +
      'sweeps hourly; `fluxhost prune --dry-run` shows what would go.',
    parse: retention,
  },
} as const satisfies Record<string, Setting<unknown>>
