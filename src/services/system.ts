import type { ApiKey } from '../domain/api-key.js'
import type { Clock } from '../domain/clock.js'
import type { ModelId } from '../domain/models.js'
import { formatUsd } from '../domain/money.js'
import type { EngineRouter } from '../engines/router.js'
import type { JobQueue } from '../queue/job-queue.js'
import type { Store } from '../store/store.js'
import { createModelCatalog } from './models.js'

export type { ModelInfo } from './models.js'

export interface UsageTotals {
  amountMicros: number
  images: number
  jobs: number
}

export interface Usage {
  /** All time, for one key (undefined in the every-key view). */
  total: UsageTotals | undefined
  days: number
  /** The last `days` days. */
  window: UsageTotals
  byModel: (UsageTotals & { model: string })[]
  daily: (UsageTotals & { day: string; model: string })[]
}

export interface Health {
  ok: boolean
  database: 'ok' | 'error'
  queueDepth: number | null
}

export interface SystemServiceDeps {
  store: Store
  queue: JobQueue
  router: EngineRouter
  clock: Clock
  pricesUsd: Readonly<Record<ModelId, number>>
  enginePricesUsd?: Readonly<Partial<Record<string, Partial<Record<ModelId, number>>>>>
}

/** Models, health and usage: what the server can tell about itself. */
export function createSystemService(deps: SystemServiceDeps) {
  const { store, queue, router, clock, pricesUsd } = deps
  const catalog = createModelCatalog({ router, clock, pricesUsd, enginePricesUsd: deps.enginePricesUsd })
  return {
    /** The models, their limits and prices, and their engines with whether each is reachable. */
    models: catalog.models,

    async health(): Promise<Health> {
      try {
        await store.ping()
        return { ok: true, database: 'ok', queueDepth: await queue.depth() }
      } catch {
        return { ok: false, database: 'error', queueDepth: null }
      }
    },

    /**
     * What was charged (succeeded jobs only): all time, and per UTC day and model over the
     * last `days` days. For one key, or every key (`undefined`, the operator's view).
     */
    /**
     * The usage as CSV, one row per UTC day, key and model over the last `days` days (one key,
     * or every key): `day,key_id,key_name,model,jobs,images,usd`. Cells a spreadsheet would
     * run as a formula are quoted with a leading apostrophe.
     */
    async usageCsv(apiKeyId: string | undefined, days = 30): Promise<string> {
      const DAY = 24 * 3600 * 1000
      const since = (Math.floor(clock.now() / DAY) - days + 1) * DAY
      const rows = await store.charges.dailyByKey(apiKeyId, since)
      const lines = ['day,key_id,key_name,model,jobs,images,usd']
      for (const row of rows) {
        const day = new Date(row.day * DAY).toISOString().slice(0, 10)
        const cells = [day, row.keyId, row.keyName, row.model, row.jobs, row.images, formatUsd(row.amountMicros)]
        lines.push(cells.map((cell) => csvCell(String(cell))).join(','))
      }
      return `${lines.join('\r\n')}\r\n`
    },

    async usage(apiKey: Pick<ApiKey, 'id'> | undefined, days = 30): Promise<Usage> {
      const DAY = 24 * 3600 * 1000
      const since = (Math.floor(clock.now() / DAY) - days + 1) * DAY
      const [total, daily] = await Promise.all([
        apiKey ? store.charges.totals(apiKey.id) : Promise.resolve(undefined),
        store.charges.daily(apiKey?.id, since),
      ])
      const byModel = new Map<string, UsageTotals>()
      for (const row of daily) {
        const sum = byModel.get(row.model) ?? { amountMicros: 0, images: 0, jobs: 0 }
        byModel.set(row.model, {
          amountMicros: sum.amountMicros + row.amountMicros,
          images: sum.images + row.images,
          jobs: sum.jobs + row.jobs,
        })
      }
      const window = daily.reduce(
        (t, r) => ({
          amountMicros: t.amountMicros + r.amountMicros,
          images: t.images + r.images,
          jobs: t.jobs + r.jobs,
        }),
        { amountMicros: 0, images: 0, jobs: 0 },
      )
      return {
        total,
        days,
        window,
        byModel: [...byModel].map(([model, totals]) => ({ model, ...totals })),
        daily: daily.map((row) => ({ ...row, day: new Date(row.day * DAY).toISOString().slice(0, 10) })),
      }
    },
  }
}

export type SystemService = ReturnType<typeof createSystemService>

/** One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break; formulas defused. */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe
}
