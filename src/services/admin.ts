import type { ApiKey } from '../domain/api-key.js'
import type { Clock } from '../domain/clock.js'
import type { Job } from '../domain/job.js'
import type { JobQueue } from '../queue/job-queue.js'
import type { Store } from '../store/store.js'
import type { KeyService } from './keys.js'
import type { SystemService, UsageTotals } from './system.js'

export interface AdminServiceDeps {
  store: Store
  keys: KeyService
  system: SystemService
  queue: JobQueue
  clock: Clock
}

export interface KeyWithUsage extends ApiKey {
  usage: { total: UsageTotals; last30Days: UsageTotals }
}

export interface EngineLatency {
  engine: string
  jobs: number
  p50Ms: number
  p95Ms: number
  lastAt: Date
}

const DAY = 24 * 3600 * 1000

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

/**
 * What the admin pages show, for admin-scoped keys: every key with its spend, the queue,
 * and how the engines have been doing. Key changes go through the key service.
 */
export function createAdminService({ store, keys, system, queue, clock }: AdminServiceDeps) {
  return {
    async keys(): Promise<KeyWithUsage[]> {
      const since = (Math.floor(clock.now() / DAY) - 29) * DAY
      const all = await keys.list()
      return Promise.all(
        all.map(async (key) => {
          const [total, last30Days] = await Promise.all([
            store.charges.totals(key.id),
            store.charges.totals(key.id, since),
          ])
          return { ...key, usage: { total, last30Days } }
        }),
      )
    },

    /**
     * What each engine made over the last `days` days: what keys were charged, what its
     * provider charged fluxhost, and the margin over the jobs whose provider cost is known.
     */
    async spendByEngine(keyId: string | undefined, days: number) {
      const since = (Math.floor(clock.now() / DAY) - days + 1) * DAY
      const rows = await store.charges.byEngine(keyId, since)
      return rows.map((row) => ({
        engine: row.engine ?? 'unrecorded',
        jobs: row.jobs,
        images: row.images,
        amountMicros: row.amountMicros,
        pricedJobs: row.priced,
        upstreamMicros: row.upstreamMicros,
        marginMicros: row.pricedAmountMicros - row.upstreamMicros,
      }))
    },

    /** Spend per UTC day for one key (or every key), the last `days` days, with empty days filled in. */
    async spendPerDay(
      keyId: string | undefined,
      days: number,
    ): Promise<{ day: string; amountMicros: number; images: number; jobs: number }[]> {
      const usage = await system.usage(keyId === undefined ? undefined : { id: keyId }, days)
      const byDay = new Map<string, UsageTotals>()
      for (const row of usage.daily) {
        const sum = byDay.get(row.day) ?? { amountMicros: 0, images: 0, jobs: 0 }
        byDay.set(row.day, {
          amountMicros: sum.amountMicros + row.amountMicros,
          images: sum.images + row.images,
          jobs: sum.jobs + row.jobs,
        })
      }
      const today = Math.floor(clock.now() / DAY)
      return Array.from({ length: days }, (_, i) => {
        const day = new Date((today - days + 1 + i) * DAY).toISOString().slice(0, 10)
        return { day, ...(byDay.get(day) ?? { amountMicros: 0, images: 0, jobs: 0 }) }
      })
    },

    /**
     * The queue: its depth, jobs by state, the first 50 waiting jobs in queue order (what runs
     * next), the running ones (50 newest) and the latest failures.
     */
    async queue(): Promise<{
      depth: number
      counts: Record<Job['state'], number>
      queued: Job[]
      running: Job[]
      recentFailures: Job[]
    }> {
      const [depth, counts, queued, running, recentFailures] = await Promise.all([
        queue.depth(),
        store.jobs.countByState(),
        store.jobs.nextQueued(50),
        store.jobs.list({ state: 'running', limit: 50 }),
        store.jobs.list({ state: 'failed', limit: 20 }),
      ])
      return { depth, counts, queued, running, recentFailures }
    },

    /**
     * The name of each key by its id, for naming a job's owner (a job of a key that is not
     * listed, such as the CLI's own local key, has none).
     */
    async keyNames(): Promise<Map<string, string>> {
      return new Map((await keys.list()).map((key) => [key.id, key.name]))
    },

    /** Time from start to finish of the newest succeeded jobs, per engine. */
    async engineLatency(sample = 500): Promise<EngineLatency[]> {
      const byEngine = new Map<string, { ms: number[]; lastAt: number }>()
      for (const row of await store.jobs.recentDurations(sample)) {
        const entry = byEngine.get(row.engine) ?? { ms: [], lastAt: 0 }
        entry.ms.push(row.ms)
        entry.lastAt = Math.max(entry.lastAt, row.finishedAt)
        byEngine.set(row.engine, entry)
      }
      return [...byEngine].map(([engine, { ms, lastAt }]) => {
        const sorted = ms.sort((a, b) => a - b)
        return {
          engine,
          jobs: sorted.length,
          p50Ms: percentile(sorted, 50),
          p95Ms: percentile(sorted, 95),
          lastAt: new Date(lastAt),
        }
      })
    },
  }
}

export type AdminService = ReturnType<typeof createAdminService>
