import type { ColumnType } from 'kysely'
import type { JobState } from '../domain/job.js'

/** Row shapes as stored. Times are milliseconds since the epoch; JSON columns are text. */
export interface JobsTable {
  id: string
  api_key_id: string
  model: string
  dialect: string
  state: JobState
  progress: number
  request: string
  result: string | null
  error_code: string | null
  error_message: string | null
  cost_micros: number
  engine: string | null
  attempts: number
  priority: number
  run_after: number
  lease_owner: string | null
  lease_expires_at: number | null
  created_at: number
  started_at: number | null
  finished_at: number | null
  deleted_at: number | null
  /** When retention scrubbed it (migration 0008). */
  pruned_at: number | null
  /** When its owner marked it a favourite (migration 0012); null: not one. */
  favourite_at: number | null
}

export interface ApiKeysTable {
  id: string
  name: string
  key_hash: string
  key_prefix: string
  scope: 'user' | 'admin'
  /** 'db': created with `keys create`; 'env': from FLUXHOST_API_KEYS; 'local': the CLI's own. */
  source: 'db' | 'env' | 'local'
  created_at: number
  revoked_at: number | null
  last_used_at: number | null
  /** `whsec_…`: signs this key's webhooks; made on first use (migration 0003). */
  webhook_secret: ColumnType<string | null, string | null | undefined, string | null>
  // Limits (migration 0009): NULL takes the server's default, -1 is "none". Micro-dollars.
  max_concurrency: ColumnType<number | null, number | null | undefined, number | null>
  rpm_limit: ColumnType<number | null, number | null | undefined, number | null>
  /** The prepaid balance left; NULL: no prepaid balance (not limited by credits). */
  credits_micros: ColumnType<number | null, number | null | undefined, number | null>
  budget_micros: ColumnType<number | null, number | null | undefined, number | null>
  budget_period: ColumnType<'day' | 'week' | 'month' | null, string | null | undefined, string | null>
  // Counters: active_jobs, reserved_micros and served_seq are kept by triggers on jobs.
  active_jobs: ColumnType<number, number | undefined, number>
  reserved_micros: ColumnType<number, number | undefined, number>
  rpm_window: ColumnType<number, number | undefined, number>
  rpm_count: ColumnType<number, number | undefined, number>
  period_start: ColumnType<number, number | undefined, number>
  period_spent_micros: ColumnType<number, number | undefined, number>
  served_seq: ColumnType<number, number | undefined, number>
  /** Where the key's own events (budget alerts) are sent; null: nowhere (migration 0009). */
  event_webhook_url: ColumnType<string | null, string | null | undefined, string | null>
  /** The budget (-1: none) and period in force, as the API last worked them out from the key and the defaults. */
  budget_in_force_micros: ColumnType<number | null, number | null | undefined, number | null>
  period_in_force: ColumnType<'day' | 'week' | 'month' | null, string | null | undefined, string | null>
  /** The highest budget alert (80, 100) sent, and in which period (its start). */
  alerted_period_start: ColumnType<number | null, number | null | undefined, number | null>
  alerted_percent: ColumnType<number | null, number | null | undefined, number | null>
}

/** Credits added to or set on a key (migration 0009). */
export interface CreditLedgerTable {
  id: string
  api_key_id: string
  kind: 'topup' | 'set'
  /** A top-up: the amount added; a set: the balance set (0 for "no balance"). */
  delta_micros: number
  balance_micros: number | null
  /** Who: `key:<admin key id>` over the API, `cli:<user>` from the CLI. */
  actor: string
  note: string | null
  created_at: number
}

export type DeliveryState = 'pending' | 'delivering' | 'delivered' | 'failed' | 'stopped'

/** One webhook message for one finished job (migration 0003). */
export interface WebhookDeliveriesTable {
  id: string
  job_id: string
  api_key_id: string
  url: string
  state: DeliveryState
  attempts: number
  round_attempts: number
  next_attempt_at: number | null
  lease_owner: string | null
  lease_expires_at: number | null
  last_status: number | null
  last_error: string | null
  created_at: number
  finished_at: number | null
  /** A key event's body (a budget alert), written when it was made; null: the job's webhook (migration 0009). */
  payload: ColumnType<string | null, string | null | undefined, string | null>
}

export type AttemptOutcome = 'delivered' | 'retry' | 'failed' | 'stopped'

export interface WebhookAttemptsTable {
  delivery_id: string
  attempt: number
  started_at: number
  latency_ms: number
  status: number | null
  error: string | null
  outcome: AttemptOutcome
}

export interface ChargesTable {
  job_id: string
  api_key_id: string
  model: string
  images: number
  amount_micros: number
  created_at: number
  /** The engine that made the images, and what its provider charged (null: unknown, or older). */
  engine: string | null
  upstream_micros: number | null
}

/** One row (id 1): the number of queued jobs, kept by triggers (migration 0002). */
export interface QueueStatsTable {
  id: number
  depth: number
}

/** One Idempotency-Key of one API key (migration 0004). */
export interface IdempotencyKeysTable {
  api_key_id: string
  key: string
  fingerprint: string
  holder: string
  state: 'in_flight' | 'done'
  locked_until: number | null
  status: number | null
  body: string | null
  content_type: string | null
  job_id: string | null
  created_at: number
  expires_at: number
}

/** Secrets shared by every process of a deployment (migration 0005). */
export interface SecretsTable {
  name: string
  value: string
  created_at: number
}

export interface Database {
  secrets: SecretsTable
  jobs: JobsTable
  queue_stats: QueueStatsTable
  webhook_deliveries: WebhookDeliveriesTable
  webhook_attempts: WebhookAttemptsTable
  idempotency_keys: IdempotencyKeysTable
  api_keys: ApiKeysTable
  charges: ChargesTable
  credit_ledger: CreditLedgerTable
}
