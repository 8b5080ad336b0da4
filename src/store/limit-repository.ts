import { type Kysely, type Selectable, sql } from 'kysely'
import { type LimitDefaults, periodStarts, RPM_WINDOW_MS } from '../domain/limits.js'
import { compileByShape } from './compiled.js'
import { effective, LIMIT_COLUMNS, type LimitColumns, limitValues, reserveQuery } from './limit-sql.js'
import type { CreditLedgerTable, Database } from './schema.js'

export type LedgerRow = Selectable<CreditLedgerTable>

/** A key's limit columns and counters, as numbers. */
export interface LimitRow {
  maxConcurrency: number | null
  rpmLimit: number | null
  creditsMicros: number | null
  budgetMicros: number | null
  budgetPeriod: 'day' | 'week' | 'month' | null
  activeJobs: number
  reservedMicros: number
  rpmWindow: number
  rpmCount: number
  periodStart: number
  periodSpentMicros: number
  eventWebhookUrl: string | null
  /** Where the key comes from: the server's defaults apply only to keys made in the records (`db`). */
  source: 'db' | 'env' | 'local'
}

/** A change to a key's limits: a number sets it, -1 is "none", null is "the server's default". */
export interface LimitPatch {
  /** Where the key's own events (budget alerts) go; null: nowhere. */
  eventWebhookUrl?: string | null
  maxConcurrency?: number | null
  rpmLimit?: number | null
  budgetMicros?: number | null
  budgetPeriod?: 'day' | 'week' | 'month' | null
}

const num = (value: unknown) => Number(value)
const numOrNull = (value: unknown) => (value === null || value === undefined ? null : Number(value))

export function toLimitRow(row: LimitColumns): LimitRow {
  return {
    maxConcurrency: numOrNull(row.max_concurrency),
    rpmLimit: numOrNull(row.rpm_limit),
    creditsMicros: numOrNull(row.credits_micros),
    budgetMicros: numOrNull(row.budget_micros),
    budgetPeriod: row.budget_period,
    activeJobs: num(row.active_jobs),
    reservedMicros: num(row.reserved_micros),
    rpmWindow: num(row.rpm_window),
    rpmCount: num(row.rpm_count),
    periodStart: num(row.period_start),
    periodSpentMicros: num(row.period_spent_micros),
    eventWebhookUrl: row.event_webhook_url,
    source: row.source,
  }
}

/** The settlement's statement, compiled once per store (compiled.ts). */
export function compileSettleQuery(db: Kysely<Database>) {
  return compileByShape<
    { period_spent_micros: number; period_start: number; event_webhook_url: string | null } & {
      alerted_period_start: number | null
      alerted_percent: number | null
      budget: number
      period: 'day' | 'week' | 'month'
    },
    { apiKeyId: string; amountMicros: number; day: number; week: number; month: number },
    []
  >((slot) => {
    const amountMicros = slot('amountMicros')
    const period = sql<'day' | 'week' | 'month'>`coalesce(period_in_force, 'month')`
    const periodStart = sql<number>`(case ${period} when 'day' then cast(${slot('day')} as bigint)
        when 'week' then cast(${slot('week')} as bigint) else cast(${slot('month')} as bigint) end)`
    const spent = sql<number>`(case when period_start = ${periodStart} then period_spent_micros else 0 end)`
    return db
      .updateTable('api_keys')
      .set({
        credits_micros: sql`credits_micros - ${amountMicros}`,
        period_spent_micros: sql`${spent} + ${amountMicros}`,
        period_start: periodStart,
      })
      .where('id', '=', slot('apiKeyId'))
      .returning([
        'period_spent_micros',
        'period_start',
        'event_webhook_url',
        'alerted_period_start',
        'alerted_percent',
        sql<number>`coalesce(budget_in_force_micros, -1)`.as('budget'),
        period.as('period'),
      ])
  })
}

/**
 * Where each key stands against its limits. A create reserves with `reserve` and inserts its
 * job in the same transaction (the job's row is the reservation: the insert's trigger adds it
 * to `active_jobs`/`reserved_micros`, the job's end takes it off); a success `settle`s with the
 * charge, in the completion's transaction.
 */
export function createLimitRepository(db: Kysely<Database>, settleQuery = compileSettleQuery(db)) {
  return {
    /**
     * The guarded statement of a create: counts it against the key's creates per minute if,
     * and only if, every limit leaves room for one more job costing `costMicros` (for `count`
     * more jobs costing `costMicros` together: a group commit's jobs of one key). Undefined:
     * refused (read `get` to say which limit). On PostgreSQL the update holds the key's row
     * until the transaction ends, and a concurrent one re-checks the guard on the row the
     * first committed, with its job counted: N concurrent creates against room for k accept k.
     */
    async reserve(apiKeyId: string, costMicros: number, now: number, defaults: LimitDefaults, count = 1) {
      const window = Math.floor(now / RPM_WINDOW_MS) * RPM_WINDOW_MS
      const values = { ...limitValues(defaults, now), apiKeyId, count, costMicros, window }
      const { rows } = await db.executeQuery(reserveQuery(db, values))
      return rows[0] ? toLimitRow(rows[0]) : undefined
    },

    /**
     * A success's settlement, in the completion's transaction: the charge comes off the prepaid
     * balance (if the key has one) and adds to the spend of the current period of the budget in
     * force (a new period starts from zero). Needs no configuration: the budget and period in
     * force are on the key's row (the API process keeps them). Returns the period's spend, the
     * budget in force (-1: none), its period and start, the highest alert already sent in it,
     * and where the key's events go.
     */
    async settle(apiKeyId: string, amountMicros: number, now: number) {
      const [row] = (await db.executeQuery(settleQuery({ apiKeyId, amountMicros, ...periodStarts(now) }))).rows
      if (!row) return undefined
      const periodStartAt = Number(row.period_start)
      return {
        amountMicros,
        spentMicros: Number(row.period_spent_micros),
        budgetMicros: Number(row.budget),
        period: row.period,
        periodStart: periodStartAt,
        alreadyAlerted: Number(row.alerted_period_start) === periodStartAt ? Number(row.alerted_percent ?? 0) : 0,
        eventWebhookUrl: row.event_webhook_url,
      }
    },

    /** Notes that budget alerts up to `percent` were sent in the period starting `periodStart`. */
    async noteAlerted(apiKeyId: string, periodStart: number, percent: number): Promise<void> {
      await db
        .updateTable('api_keys')
        .set({ alerted_period_start: periodStart, alerted_percent: percent })
        .where('id', '=', apiKeyId)
        .execute()
    },

    /**
     * Works out again, from each key's own settings and the server's `defaults`, the budget and
     * period in force that settlements use (a server started with other defaults; a key's
     * limits changed). All keys, or one.
     */
    async refreshInForce(defaults: LimitDefaults, now: number, apiKeyId?: string): Promise<void> {
      const e = effective(limitValues(defaults, now))
      let update = db.updateTable('api_keys').set({ budget_in_force_micros: e.budget, period_in_force: e.period })
      if (apiKeyId !== undefined) update = update.where('id', '=', apiKeyId)
      await update.execute()
    },

    async get(apiKeyId: string): Promise<LimitRow | undefined> {
      const row = await db.selectFrom('api_keys').select(LIMIT_COLUMNS).where('id', '=', apiKeyId).executeTakeFirst()
      return row ? toLimitRow(row) : undefined
    },

    /** Changes a key's limit settings; false: no such key. */
    async set(apiKeyId: string, patch: LimitPatch): Promise<boolean> {
      const values = {
        ...(patch.maxConcurrency === undefined ? {} : { max_concurrency: patch.maxConcurrency }),
        ...(patch.rpmLimit === undefined ? {} : { rpm_limit: patch.rpmLimit }),
        ...(patch.budgetMicros === undefined ? {} : { budget_micros: patch.budgetMicros }),
        ...(patch.budgetPeriod === undefined ? {} : { budget_period: patch.budgetPeriod }),
        ...(patch.eventWebhookUrl === undefined ? {} : { event_webhook_url: patch.eventWebhookUrl }),
      }
      // (Nothing to change: a no-op write, which still says whether the key exists.)
      const result = await db
        .updateTable('api_keys')
        .set(Object.keys(values).length > 0 ? values : { id: sql`id` })
        .where('id', '=', apiKeyId)
        .executeTakeFirst()
      return Number(result.numUpdatedRows) === 1
    },

    /**
     * Adds `deltaMicros` to the key's prepaid balance (`topup`; a key without one starts from
     * zero), or sets it (`set`; null removes the balance: the key is no longer limited by
     * credits), and records it in the ledger: one transaction (call it inside one). Returns
     * the balance after, or undefined when there is no such key.
     */
    async credit(entry: {
      id: string
      apiKeyId: string
      kind: 'topup' | 'set'
      micros: number | null
      actor: string
      note: string | null
      now: number
    }): Promise<{ balanceMicros: number | null } | undefined> {
      const balance =
        entry.kind === 'set' ? entry.micros : sql<number>`coalesce(credits_micros, 0) + ${entry.micros ?? 0}`
      const row = await db
        .updateTable('api_keys')
        .set({ credits_micros: balance })
        .where('id', '=', entry.apiKeyId)
        .returning(['credits_micros'])
        .executeTakeFirst()
      if (!row) return undefined
      const balanceMicros = numOrNull(row.credits_micros)
      await db
        .insertInto('credit_ledger')
        .values({
          id: entry.id,
          api_key_id: entry.apiKeyId,
          kind: entry.kind,
          delta_micros: entry.micros ?? 0,
          balance_micros: balanceMicros,
          actor: entry.actor,
          note: entry.note,
          created_at: entry.now,
        })
        .execute()
      return { balanceMicros }
    },

    /** The key's ledger entries, newest first. */
    async ledger(apiKeyId: string, limit = 100): Promise<LedgerRow[]> {
      const rows = await db
        .selectFrom('credit_ledger')
        .selectAll()
        .where('api_key_id', '=', apiKeyId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute()
      return rows.map((row) => ({
        ...row,
        delta_micros: num(row.delta_micros),
        balance_micros: numOrNull(row.balance_micros),
        created_at: num(row.created_at),
      }))
    },
  }
}

export type LimitRepository = ReturnType<typeof createLimitRepository>
