import { type CompiledQuery, type Kysely, type RawBuilder, type Selectable, sql } from 'kysely'
import { type LimitDefaults, periodStarts } from '../domain/limits.js'
import type { Database } from './schema.js'

/** A key's limit columns and counters, as stored. */
export const LIMIT_COLUMNS = [
  'max_concurrency',
  'rpm_limit',
  'credits_micros',
  'budget_micros',
  'budget_period',
  'active_jobs',
  'reserved_micros',
  'rpm_window',
  'rpm_count',
  'period_start',
  'period_spent_micros',
  'event_webhook_url',
  'source',
] as const

export type LimitColumns = Pick<Selectable<Database['api_keys']>, (typeof LIMIT_COLUMNS)[number]>

/** What a guarded statement is given: the server's defaults (-1: none) and the time's windows. */
export interface LimitValues {
  defaultConcurrency: number
  defaultRpm: number
  defaultBudget: number
  defaultPeriod: string
  day: number
  week: number
  month: number
}

export function limitValues(defaults: LimitDefaults, now: number): LimitValues {
  const starts = periodStarts(now)
  return {
    defaultConcurrency: defaults.concurrency ?? -1,
    defaultRpm: defaults.rpm ?? -1,
    defaultBudget: defaults.budget?.micros ?? -1,
    defaultPeriod: defaults.budget?.period ?? 'month',
    ...starts,
  }
}

/**
 * The SQL of a key's effective limits (its own, else the server's defaults, -1 for none) and of
 * its spend in the current period, for the guarded statements below. The defaults are for keys
 * made in the records; FLUXHOST_API_KEYS' keys and the CLI's own have only their own.
 */
export function effective(v: LimitValues) {
  // (Cast: PostgreSQL would type the parameter from the -1, as a 32-bit integer.)
  const byDefault = (value: number) => sql<number>`(case when source = 'db' then cast(${value} as bigint) else -1 end)`
  const period = sql`(case when budget_micros is null then ${v.defaultPeriod}
    else coalesce(budget_period, 'month') end)`
  // (Cast: PostgreSQL types a CASE of bare parameters as text.)
  const periodStart = sql<number>`(case ${period} when 'day' then cast(${v.day} as bigint)
    when 'week' then cast(${v.week} as bigint) else cast(${v.month} as bigint) end)`
  return {
    period: sql<'day' | 'week' | 'month'>`${period}`,
    concurrency: sql<number>`coalesce(max_concurrency, ${byDefault(v.defaultConcurrency)})`,
    rpm: sql<number>`coalesce(rpm_limit, ${byDefault(v.defaultRpm)})`,
    budget: sql<number>`coalesce(budget_micros, ${byDefault(v.defaultBudget)})`,
    periodStart,
    spent: sql<number>`(case when period_start = ${periodStart} then period_spent_micros else 0 end)`,
  }
}

/** A reservation of `count` jobs of one key, costing `costMicros` together. */
export type ReserveValues = LimitValues & { apiKeyId: string; count: number; costMicros: number; window: number }

/** The reservation's statement, for these values: room for all `count` jobs, or none is reserved. */
export function reserveStatement(db: Kysely<Database>, v: ReserveValues) {
  const e = effective(v)
  const usedThisMinute = sql<number>`(case when rpm_window = ${v.window} then rpm_count else 0 end)`
  const guards: RawBuilder<boolean>[] = [
    sql`(${e.concurrency} < 0 or active_jobs + ${v.count} <= ${e.concurrency})`,
    sql`(${e.rpm} < 0 or ${usedThisMinute} + ${v.count} <= ${e.rpm})`,
    sql`(credits_micros is null or credits_micros - reserved_micros >= ${v.costMicros})`,
    sql`(${e.budget} < 0 or ${e.spent} + reserved_micros + ${v.costMicros} <= ${e.budget})`,
  ]
  return db
    .updateTable('api_keys')
    .set({
      rpm_count: sql`${usedThisMinute} + ${v.count}`,
      rpm_window: v.window,
      budget_in_force_micros: e.budget,
      period_in_force: e.period,
    })
    .where('id', '=', v.apiKeyId)
    .where(sql<boolean>`${sql.join(guards, sql` and `)}`)
    .returning(LIMIT_COLUMNS)
}

// The reservation is on every limited create: compiled once per SQL dialect with a distinct
// stand-in for each value, then bound by name (building and compiling it per create cost more
// than running it).
const STAND_INS: ReserveValues = {
  apiKeyId: '\u0000apiKeyId',
  count: -9_000_009,
  costMicros: -9_000_001,
  window: -9_000_002,
  defaultConcurrency: -9_000_003,
  defaultRpm: -9_000_004,
  defaultBudget: -9_000_005,
  defaultPeriod: '\u0000defaultPeriod',
  day: -9_000_006,
  week: -9_000_007,
  month: -9_000_008,
}
const compiledReserve = new Map<unknown, { compiled: CompiledQuery<LimitColumns>; names: (keyof ReserveValues)[] }>()

export function reserveQuery(db: Kysely<Database>, values: ReserveValues): CompiledQuery<LimitColumns> {
  const dialect = db.getExecutor().adapter.constructor
  let template = compiledReserve.get(dialect)
  if (!template) {
    const compiled = reserveStatement(db, STAND_INS).compile()
    const byStandIn = new Map(Object.entries(STAND_INS).map(([name, value]) => [value, name as keyof ReserveValues]))
    const names = compiled.parameters.map((parameter) => {
      const name = byStandIn.get(parameter as string | number)
      if (!name) throw new Error(`the reservation's statement has a parameter of its own: ${String(parameter)}`)
      return name
    })
    template = { compiled, names }
    compiledReserve.set(dialect, template)
  }
  return { ...template.compiled, parameters: template.names.map((name) => values[name]) }
}
