// The shapes of the admin API's answers, as far as the admin page reads them (docs/api/native.md
// and the OpenAPI document at /docs have them whole). The page trusts its own server's shapes.
import type { Job, JobState } from './playground-types.js'

/** A limit as set: a number, no limit, or the server's default. */
export type LimitSetting = number | 'none' | 'default'
export type BudgetPeriod = 'day' | 'week' | 'month'

/** A key's limits and where it stands against them (`renderStanding` on the server). */
export interface Standing {
  webhookUrl: string | null
  concurrency: { limit: number | null; setting: LimitSetting; active: number }
  rpm: { limit: number | null; setting: LimitSetting; used: number; resetsAt: string }
  credits: { balance: number | null; reserved: number; available: number | null }
  budget: {
    limit: { usd: string; period: BudgetPeriod } | null
    /** The budget as set: US dollars as text, "none" or "default". */
    setting: string
    settingPeriod: BudgetPeriod | null
    spentUsd: string
    reservedUsd: string
    periodStart: string
    periodEnd: string
  }
}

export interface UsageTotals {
  usd: string
  images: number
  jobs: number
}

/** A key in GET /api/admin/keys. */
export interface AdminKey {
  id: string
  name: string
  scope: 'user' | 'admin'
  source: 'db' | 'env'
  prefix: string
  createdAt: string | null
  revokedAt: string | null
  lastUsedAt: string | null
  usage: { total: UsageTotals; last30Days: UsageTotals }
  limits: Standing
}

export interface LedgerEntry {
  id: string
  kind: 'topup' | 'set'
  credits: number
  balance: number | null
  actor: string
  note: string | null
  at: string
}

export type { JobImage, JobState } from './playground-types.js'

/**
 * A job as the native API renders it (`renderJob`, as the playground reads it), plus, from the
 * admin API, the key it belongs to.
 */
export interface AdminJob extends Job {
  dialect: string
  attempts: number
  prunedAt: string | null
  /** The key the job belongs to (a name of null: a key the API does not list, such as the CLI's). */
  key: { id: string; name: string | null }
}

export interface Queue {
  depth: number
  counts: Record<JobState, number>
  queued: AdminJob[]
  running: AdminJob[]
  recentFailures: AdminJob[]
}

export type DeliveryState = 'pending' | 'delivering' | 'delivered' | 'failed' | 'stopped'

export interface Delivery {
  id: string
  event: string
  jobId: string
  url: string
  state: DeliveryState
  attempts: { attempt: number; at: string; latencyMs: number; status: number | null; error: string | null }[]
  nextAttemptAt: string | null
  lastStatus: number | null
  lastError: string | null
  createdAt: string
  finishedAt: string | null
}

export interface EngineStatus {
  name: string
  reachable: boolean
  detail?: string
  priceUsd?: number
  health?: {
    state: string
    reason?: string | null
    p50Ms: number | null
    p95Ms: number | null
    jobsLastHour: number
    failureRate: number
  }
}

export interface Engines {
  models: { id: string; name: string; policy: string | null; engines: EngineStatus[] }[]
  latency: { engine: string; jobs: number; p50Ms: number; p95Ms: number; lastAt: string }[]
}

export interface Usage {
  keyId: string | null
  days: number
  daily: ({ day: string } & UsageTotals)[]
  byEngine: ({ engine: string; pricedJobs: number; upstreamUsd: string; marginUsd: string } & UsageTotals)[]
}

/** A list answer: `{data: [...]}`. */
export interface List<T> {
  data: T[]
}
