/**
 * What one API key may do: jobs at once, creates per minute, a prepaid balance and a budget
 * per period. As LiteLLM's virtual keys (`max_parallel_requests`, `rpm_limit`, `max_budget` +
 * `budget_duration`) and BFL's account limits (24 active tasks, 402 without credits).
 */
export type BudgetPeriod = 'day' | 'week' | 'month'
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'week', 'month']

/**
 * A key's own setting of one limit: a number, `'none'` (no limit, whatever the server's
 * default) or `'default'` (the server's default, FLUXHOST_KEY_*; none unless configured).
 */
export type LimitSetting = number | 'none' | 'default'

export interface Budget {
  micros: number
  period: BudgetPeriod
}

/** The server-wide defaults (config); `undefined`: none. */
export interface LimitDefaults {
  concurrency?: number
  rpm?: number
  budget?: Budget
}

/** A key's limits and where it stands against them, with the defaults applied. */
export interface KeyStanding {
  /** Jobs queued or running at once; null: no limit. */
  concurrency: number | null
  rpm: number | null
  /** Prepaid balance left (before reservations), micro-dollars; null: no prepaid balance (unlimited). */
  creditsMicros: number | null
  budget: Budget | null
  /** The settings as the key has them (before defaults). */
  settings: { concurrency: LimitSetting; rpm: LimitSetting; budget: LimitSetting; budgetPeriod: BudgetPeriod | null }
  activeJobs: number
  reservedMicros: number
  /** Settled spend in the current budget period (the key's period, or the month without a budget). */
  periodSpentMicros: number
  /** When the current period began and when the next begins (ms since the epoch, UTC). */
  periodStart: number
  periodEnd: number
  /** Where the key's own events (budget alerts) are sent; null: nowhere. */
  eventWebhookUrl: string | null
  /** Creates counted in the current minute. */
  rpmUsed: number
  /** When the current minute's count began. */
  rpmWindowStart: number
}

/** Why a create was refused. */
export type LimitReason = 'rpm' | 'concurrency' | 'credits' | 'budget'

export const RPM_WINDOW_MS = 60_000
const DAY_MS = 86_400_000

/** The UTC start of the period holding `now`, and of the next one. Weeks begin on Monday. */
export function periodBounds(period: BudgetPeriod, now: number): { start: number; end: number } {
  const day = Math.floor(now / DAY_MS)
  if (period === 'day') return { start: day * DAY_MS, end: (day + 1) * DAY_MS }
  if (period === 'week') {
    // 1970-01-01 was a Thursday: day 4 of a week that began on Monday, 1969-12-29 (day -3).
    const monday = Math.floor((day + 3) / 7) * 7 - 3
    return { start: monday * DAY_MS, end: (monday + 7) * DAY_MS }
  }
  const date = new Date(now)
  const start = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1)
  return { start, end: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) }
}

/** The start of each period holding `now`: what the store compares a key's `period_start` with. */
export function periodStarts(now: number): Record<BudgetPeriod, number> {
  return {
    day: periodBounds('day', now).start,
    week: periodBounds('week', now).start,
    month: periodBounds('month', now).start,
  }
}

/** `20/month`, `5.50/day`: a budget in US dollars per period; undefined when malformed. */
export function parseBudget(text: string): { usd: number; period: BudgetPeriod } | undefined {
  const match = /^\s*\$?(\d+(?:\.\d{1,6})?)\s*\/\s*(day|week|month)\s*$/i.exec(text)
  if (!match) return undefined
  return { usd: Number(match[1]), period: match[2]!.toLowerCase() as BudgetPeriod }
}
