import type { Logger } from 'pino'
import type { BlobStore } from '../blobs/blob-store.js'
import type { Clock } from '../domain/clock.js'
import type { LimitDefaults } from '../domain/limits.js'
import type { EngineRouter } from '../engines/router.js'
import type { Metrics } from '../observability/metrics.js'
import type { PromptUpsampler } from '../prompts/upsampler.js'
import type { JobEvents } from '../queue/job-events.js'
import type { JobQueue } from '../queue/job-queue.js'
import type { SafetyChecker } from '../safety/checker.js'
import type { Store } from '../store/store.js'

/** Why a worker aborted a running job; the engine sees it as `signal.reason`. */
export const ABORT = {
  shutdown: 'shutdown',
  canceled: 'canceled',
  leaseLost: 'lease-lost',
} as const
export type AbortReason = (typeof ABORT)[keyof typeof ABORT]

export interface RunJobDeps {
  store: Store
  queue: JobQueue
  events: JobEvents
  blobs: BlobStore
  router: EngineRouter
  clock: Clock
  logger: Logger
  metrics: Metrics
  leaseMs: number
  maxAttempts: number
  /** The prompt blocklist and output classifier; absent: no checks (tests of the runner). */
  safety?: SafetyChecker
  /** Rewrites prompts for engines that cannot (FLUXHOST_UPSAMPLER_URL); absent: none configured. */
  upsampler?: PromptUpsampler
  /** The server's default limits per key (FLUXHOST_KEY_*): which budget period a settlement counts in. */
  limitDefaults: LimitDefaults
  /** Told when a settlement takes a key's spend past 80 % or 100 % of its budget (once per crossing). */
  onBudgetCrossed?(crossing: BudgetCrossing): void
}

/** A key's period spend passing a share of its budget. */
export interface BudgetCrossing {
  apiKeyId: string
  /** 80 or 100 (per cent of the budget). */
  percent: number
  spentMicros: number
  budgetMicros: number
  jobId: string
}

/** The shares of a budget whose passing is announced. */
export const BUDGET_ALERTS = [80, 100] as const
