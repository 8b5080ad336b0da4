import type { ApiKey } from '../domain/api-key.js'
import type { Clock } from '../domain/clock.js'
import { type FieldIssue, FluxhostError, validationError } from '../domain/errors.js'
import {
  type BudgetPeriod,
  type KeyStanding,
  type LimitDefaults,
  type LimitReason,
  type LimitSetting,
  periodBounds,
  RPM_WINDOW_MS,
} from '../domain/limits.js'
import type { LedgerRow, LimitPatch, LimitRow } from '../store/limit-repository.js'
import type { Store } from '../store/store.js'
import { vetWebhookUrl } from './webhook-url.js'

export interface LimitServiceDeps {
  store: Store
  clock: Clock
  defaults: LimitDefaults
  newId(): string
  /** After a key's limits change: cached keys (which say whether a key is limited) are dropped. */
  keysChanged(): void
  /** Refuses (throws FetchRefused) a URL that outbound requests may not reach. */
  vetUrl(url: string): Promise<void>
}

/** A change of a key's limits as an admin asks for it (API, CLI, admin page). */
export interface LimitChange {
  concurrency?: LimitSetting
  rpm?: LimitSetting
  /** Micro-dollars per `budgetPeriod`. */
  budget?: LimitSetting
  budgetPeriod?: BudgetPeriod
  /** Where the key's own events (budget alerts) go; null: nowhere. */
  eventWebhookUrl?: string | null
}

/** The rate window of a limited create, for the `RateLimit` headers. */
export interface RateQuota {
  limit: number
  remaining: number
  /** Seconds until the window resets. */
  resetS: number
}

const setting = (stored: number | null): LimitSetting => (stored === null ? 'default' : stored < 0 ? 'none' : stored)
const effective = (stored: number | null, fallback: number | undefined): number | null => {
  const value = stored ?? fallback ?? -1
  return value < 0 ? null : value
}
const toStored = (value: LimitSetting): number | null => (value === 'default' ? null : value === 'none' ? -1 : value)

/** The server's defaults apply to keys made in the records, not to FLUXHOST_API_KEYS' or the CLI's own. */
const defaultsFor = (source: ApiKey['source'], defaults: LimitDefaults): LimitDefaults =>
  source === 'db' ? defaults : {}

/** Whether creates of this key must pass the guarded reservation (any limit is in force). */
export function isLimited(key: ApiKey, serverDefaults: LimitDefaults): boolean {
  const { limits } = key
  const defaults = defaultsFor(key.source, serverDefaults)
  return (
    limits.credits ||
    effective(limits.concurrency, defaults.concurrency) !== null ||
    effective(limits.rpm, defaults.rpm) !== null ||
    effective(limits.budgetMicros, defaults.budget?.micros) !== null
  )
}

/** A key's standing, from its row: the defaults applied, a period past its end read as zero. */
export function standingOf(row: LimitRow, serverDefaults: LimitDefaults, now: number): KeyStanding {
  const defaults = defaultsFor(row.source, serverDefaults)
  const budgetMicros = effective(row.budgetMicros, defaults.budget?.micros)
  const period: BudgetPeriod =
    row.budgetMicros === null ? (defaults.budget?.period ?? 'month') : (row.budgetPeriod ?? 'month')
  const bounds = periodBounds(period, now)
  const window = Math.floor(now / RPM_WINDOW_MS) * RPM_WINDOW_MS
  return {
    concurrency: effective(row.maxConcurrency, defaults.concurrency),
    rpm: effective(row.rpmLimit, defaults.rpm),
    creditsMicros: row.creditsMicros,
    budget: budgetMicros === null ? null : { micros: budgetMicros, period },
    settings: {
      concurrency: setting(row.maxConcurrency),
      rpm: setting(row.rpmLimit),
      budget: setting(row.budgetMicros),
      budgetPeriod: row.budgetPeriod,
    },
    activeJobs: row.activeJobs,
    reservedMicros: row.reservedMicros,
    periodSpentMicros: row.periodStart === bounds.start ? row.periodSpentMicros : 0,
    periodStart: bounds.start,
    periodEnd: bounds.end,
    eventWebhookUrl: row.eventWebhookUrl,
    rpmUsed: row.rpmWindow === window ? row.rpmCount : 0,
    rpmWindowStart: window,
  }
}

/** The rate window after an accepted create (`standing` read from the reservation's row). */
export function quotaOf(standing: KeyStanding, now: number): RateQuota | undefined {
  if (standing.rpm === null) return undefined
  return {
    limit: standing.rpm,
    remaining: Math.max(0, standing.rpm - standing.rpmUsed),
    resetS: Math.max(1, Math.ceil((standing.rpmWindowStart + RPM_WINDOW_MS - now) / 1000)),
  }
}

/** Which limit a create costing `costMicros` runs into, if any (checked in this order). */
export function limitReached(standing: KeyStanding, costMicros: number): LimitReason | undefined {
  if (standing.rpm !== null && standing.rpmUsed >= standing.rpm) return 'rpm'
  if (standing.concurrency !== null && standing.activeJobs >= standing.concurrency) return 'concurrency'
  if (standing.creditsMicros !== null && standing.creditsMicros - standing.reservedMicros < costMicros) return 'credits'
  if (standing.budget && standing.periodSpentMicros + standing.reservedMicros + costMicros > standing.budget.micros)
    return 'budget'
  return undefined
}

const credits = (micros: number) => Math.round(micros / 100) / 100

/** The error a create refused by `reason` answers with (429 or 402, in every dialect's shape). */
export function refusal(reason: LimitReason, standing: KeyStanding, costMicros: number, now: number): FluxhostError {
  switch (reason) {
    case 'rpm': {
      const quota = quotaOf(standing, now)!
      return new FluxhostError('RATE_LIMITED', {
        message: `This API key may create ${standing.rpm} jobs per minute; retry in ${quota.resetS} s.`,
        retryAfterS: quota.resetS,
        quota,
      })
    }
    case 'concurrency':
      return new FluxhostError('CONCURRENCY_LIMITED', {
        message:
          `This API key has ${standing.activeJobs} jobs queued or running, its limit is ${standing.concurrency}; ` +
          'retry when one has finished.',
        retryAfterS: 1,
      })
    case 'credits':
      return new FluxhostError('CREDITS_EXHAUSTED', {
        message:
          `This API key has ${credits(standing.creditsMicros! - standing.reservedMicros)} credits left ` +
          `(1 credit = $0.01), the job costs ${credits(costMicros)}. Ask an admin for a top-up.`,
      })
    case 'budget': {
      const budget = standing.budget!
      const left = Math.max(0, budget.micros - standing.periodSpentMicros - standing.reservedMicros)
      return new FluxhostError('BUDGET_EXCEEDED', {
        message:
          `This API key's budget of $${(budget.micros / 1e6).toFixed(2)} per ${budget.period} has ` +
          `$${(left / 1e6).toFixed(2)} left, the job costs $${(costMicros / 1e6).toFixed(2)}; it renews ` +
          `${new Date(standing.periodEnd).toISOString()}.`,
        retryAfterS: Math.max(1, Math.ceil((standing.periodEnd - now) / 1000)),
      })
    }
  }
}

const MAX_LIMIT = 1_000_000_000
const MAX_MICROS = 1e15

function checkChange(change: LimitChange, loc: string): FieldIssue[] {
  const issues: FieldIssue[] = []
  const check = (name: 'concurrency' | 'rpm' | 'budget', max: number) => {
    const value = change[name]
    if (value === undefined || value === 'none' || value === 'default') return
    if (!Number.isInteger(value) || value < 0 || value > max)
      issues.push({
        loc: [loc, name],
        msg: `Input should be a whole number from 0 to ${max}, "none" or "default"`,
        type: 'limit_value',
        input: value,
      })
  }
  check('concurrency', MAX_LIMIT)
  check('rpm', MAX_LIMIT)
  check('budget', MAX_MICROS)
  return issues
}

/** Per-key limits as admins set them and keys see them; the create's check is in the job service. */
export function createLimitService({ store, clock, defaults, newId, keysChanged, vetUrl }: LimitServiceDeps) {
  const standing = async (apiKeyId: string): Promise<KeyStanding> => {
    const row = await store.limits.get(apiKeyId)
    if (!row) throw new FluxhostError('KEY_NOT_FOUND')
    return standingOf(row, defaults, clock.now())
  }
  const known = async (apiKeyId: string) => {
    const key = await store.keys.get(apiKeyId)
    if (!key || key.source === 'local') throw new FluxhostError('KEY_NOT_FOUND')
  }

  return {
    defaults,
    standing,

    /**
     * Puts this process's default limits on every key's row, for the settlements that workers
     * make (whatever their own configuration): the API process calls it when it starts.
     */
    async publishDefaults(): Promise<void> {
      await store.limits.refreshInForce(defaults, clock.now())
    },

    /** Changes a key's limits (`loc` names the request part, for errors); returns its standing. */
    async set(apiKeyId: string, change: LimitChange, loc = 'body'): Promise<KeyStanding> {
      const issues = checkChange(change, loc)
      if (issues.length > 0) throw validationError(issues)
      await known(apiKeyId)
      if (change.eventWebhookUrl) await vetWebhookUrl({ vet: vetUrl }, change.eventWebhookUrl, [loc, 'webhookUrl'])
      const patch: LimitPatch = {
        ...(change.eventWebhookUrl === undefined ? {} : { eventWebhookUrl: change.eventWebhookUrl }),
        ...(change.concurrency === undefined ? {} : { maxConcurrency: toStored(change.concurrency) }),
        ...(change.rpm === undefined ? {} : { rpmLimit: toStored(change.rpm) }),
        ...(change.budget === undefined ? {} : { budgetMicros: toStored(change.budget) }),
        ...(change.budgetPeriod === undefined ? {} : { budgetPeriod: change.budgetPeriod }),
      }
      if (!(await store.limits.set(apiKeyId, patch))) throw new FluxhostError('KEY_NOT_FOUND')
      await store.limits.refreshInForce(defaults, clock.now(), apiKeyId)
      keysChanged()
      return standing(apiKeyId)
    },

    /**
     * Adds credits to a key's prepaid balance (`topup`), or sets it (`set`; null: no balance,
     * not limited by credits), recorded in the ledger with `actor` and the time: one transaction.
     */
    async credit(
      apiKeyId: string,
      entry: { kind: 'topup' | 'set'; micros: number | null; actor: string; note?: string },
    ): Promise<KeyStanding> {
      const { micros } = entry
      if (micros !== null && (!Number.isInteger(micros) || Math.abs(micros) > MAX_MICROS))
        throw validationError([
          { loc: ['body', 'credits'], msg: 'Input should be a number of credits', type: 'number_type', input: micros },
        ])
      if (entry.kind === 'set' && micros !== null && micros < 0)
        throw validationError([
          { loc: ['body', 'credits'], msg: 'A balance cannot be negative', type: 'greater_than_equal', input: micros },
        ])
      await known(apiKeyId)
      if (entry.kind === 'topup' && micros !== null && micros < 0) {
        const balance = (await store.limits.get(apiKeyId))?.creditsMicros ?? null
        if (balance === null || balance + micros < 0)
          throw validationError([
            {
              loc: ['body', 'add'],
              msg: balance === null ? 'The key has no prepaid balance to take credits from' : 'More than the balance',
              type: 'less_than_equal',
              input: micros / 10_000,
            },
          ])
      }
      const done = await store.transaction((tx) =>
        tx.limits.credit({
          id: newId(),
          apiKeyId,
          kind: entry.kind,
          micros,
          actor: entry.actor,
          note: entry.note?.slice(0, 500) ?? null,
          now: clock.now(),
        }),
      )
      if (!done) throw new FluxhostError('KEY_NOT_FOUND')
      keysChanged()
      return standing(apiKeyId)
    },

    async ledger(apiKeyId: string, limit = 100): Promise<LedgerRow[]> {
      await known(apiKeyId)
      return store.limits.ledger(apiKeyId, limit)
    },
  }
}

export type LimitService = ReturnType<typeof createLimitService>
