import type { FastifyReply, FastifyRequest } from 'fastify'
import type { KeyStanding, LimitSetting } from '../domain/limits.js'
import { formatUsd, MICROS_PER_CREDIT } from '../domain/money.js'
import type { RateQuota } from '../services/limits.js'
import type { LedgerRow } from '../store/limit-repository.js'

const credits = (micros: number) => Math.round((micros / MICROS_PER_CREDIT) * 100) / 100
const usdSetting = (setting: LimitSetting) => (typeof setting === 'number' ? formatUsd(setting) : setting)

/**
 * A per-minute rate limit's window as headers: `RateLimit-Limit`/`-Remaining`/`-Reset` as
 * @fastify/rate-limit sends them (`enableDraftSpec`), and the structured `RateLimit-Policy` and
 * `RateLimit` fields of the IETF draft (draft-ietf-httpapi-ratelimit-headers-08 and later).
 */
export function setRateHeaders(reply: FastifyReply, quota: RateQuota): void {
  void reply.header('ratelimit-limit', String(quota.limit))
  void reply.header('ratelimit-remaining', String(quota.remaining))
  void reply.header('ratelimit-reset', String(quota.resetS))
  void reply.header('ratelimit-policy', `"rpm";q=${quota.limit};w=60`)
  void reply.header('ratelimit', `"rpm";r=${quota.remaining};t=${quota.resetS}`)
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The key's per-minute window after an accepted create (a rate-limited key): sent as headers. */
    rateQuota: RateQuota | null
  }
}

/** `onQuota` for `jobs.create`: the answer to an accepted create of a rate-limited key carries its window. */
export const noteQuota = (request: FastifyRequest) => (quota: RateQuota) => {
  request.rateQuota = quota
}

/** What `GET /v1/credits` answers for a key with neither credits nor a budget (and `unlimited: true`). */
export const UNLIMITED_CREDITS = 1_000_000_000

/**
 * The credits a key may still spend (prepaid balance less reservations, or budget left in the
 * period, whichever is less; never below zero); null: neither limits it.
 */
export function spendable(standing: KeyStanding): number | null {
  const left: number[] = []
  if (standing.creditsMicros !== null) left.push(standing.creditsMicros - standing.reservedMicros)
  if (standing.budget) left.push(standing.budget.micros - standing.periodSpentMicros - standing.reservedMicros)
  return left.length === 0 ? null : credits(Math.max(0, Math.min(...left)))
}

/** One credit-ledger entry, as the admin API and `fluxhost keys ledger --json` show it. */
export function renderLedgerEntry(row: LedgerRow) {
  return {
    id: row.id,
    kind: row.kind,
    credits: row.delta_micros / MICROS_PER_CREDIT,
    balance: row.balance_micros === null ? null : row.balance_micros / MICROS_PER_CREDIT,
    actor: row.actor,
    note: row.note,
    at: new Date(row.created_at).toISOString(),
  }
}

/** A key's limits and where it stands, as /api/me and the admin API show them. Money: credits and USD. */
export function renderStanding(standing: KeyStanding) {
  const { budget } = standing
  const available = standing.creditsMicros === null ? null : credits(standing.creditsMicros - standing.reservedMicros)
  return {
    webhookUrl: standing.eventWebhookUrl,
    concurrency: {
      limit: standing.concurrency,
      setting: standing.settings.concurrency,
      active: standing.activeJobs,
    },
    rpm: {
      limit: standing.rpm,
      setting: standing.settings.rpm,
      used: standing.rpmUsed,
      resetsAt: new Date(standing.rpmWindowStart + 60_000).toISOString(),
    },
    credits: {
      balance: standing.creditsMicros === null ? null : credits(standing.creditsMicros),
      reserved: credits(standing.reservedMicros),
      available,
    },
    budget: {
      limit: budget === null ? null : { usd: formatUsd(budget.micros), period: budget.period },
      setting: usdSetting(standing.settings.budget),
      settingPeriod: standing.settings.budgetPeriod,
      spentUsd: formatUsd(standing.periodSpentMicros),
      reservedUsd: formatUsd(standing.reservedMicros),
      periodStart: new Date(standing.periodStart).toISOString(),
      periodEnd: new Date(standing.periodEnd).toISOString(),
    },
  }
}

/** The JSON Schema of `renderStanding`'s answer, for the OpenAPI document. */
export const standingSchema = {
  type: 'object',
  description:
    "The key's limits (null: none) and where it stands: jobs queued or running, creates this minute, " +
    'prepaid credits (1 credit = $0.01) and spend in the budget period (UTC).',
  properties: {
    webhookUrl: {
      type: ['string', 'null'],
      description: "Where the key's own events go (budget alerts at 80 % and 100 %), signed like its job webhooks.",
    },
    concurrency: {
      type: 'object',
      properties: {
        limit: { type: ['integer', 'null'] },
        setting: { type: ['integer', 'string'] },
        active: { type: 'integer' },
      },
    },
    rpm: {
      type: 'object',
      properties: {
        limit: { type: ['integer', 'null'] },
        setting: { type: ['integer', 'string'] },
        used: { type: 'integer' },
        resetsAt: { type: 'string', format: 'date-time' },
      },
    },
    credits: {
      type: 'object',
      properties: {
        balance: { type: ['number', 'null'] },
        reserved: { type: 'number' },
        available: { type: ['number', 'null'] },
      },
    },
    budget: {
      type: 'object',
      properties: {
        limit: {
          type: ['object', 'null'],
          properties: { usd: { type: 'string' }, period: { type: 'string', enum: ['day', 'week', 'month'] } },
        },
        setting: { type: 'string' },
        settingPeriod: { type: ['string', 'null'] },
        spentUsd: { type: 'string' },
        reservedUsd: { type: 'string' },
        periodStart: { type: 'string', format: 'date-time' },
        periodEnd: { type: 'string', format: 'date-time' },
      },
    },
  },
} as const
