import { type BudgetPeriod, parseBudget } from '../../domain/limits.js'
import type { Setting } from '../parsers.js'

/** A limit that is off unless set: a whole number, or empty. */
function optionalLimit(max: number) {
  return (raw: string): number | null => {
    const value = raw.trim()
    if (value === '' || value.toLowerCase() === 'none') return null
    if (!/^\d+$/.test(value) || Number(value) > max)
      throw new Error(`must be a whole number up to ${max}, got '${raw}'`)
    return Number(value)
  }
}

function budget(raw: string): { usd: number; period: BudgetPeriod } | null {
  if (raw.trim() === '' || raw.trim().toLowerCase() === 'none') return null
  const parsed = parseBudget(raw)
  if (!parsed) throw new Error(`must be US dollars per day, week or month, like 20/month, got '${raw}'`)
  return parsed
}

const FOR_KEYS = "Default for keys without their own (made with `keys create` or the API; not FLUXHOST_API_KEYS'):"

/**
 * The server's default limits for every key that has none of its own (`fluxhost keys limits`
 * sets a key's own). All off unless configured, so one key can queue thousands of jobs.
 */
export const LIMIT_SETTINGS = {
  keyConcurrency: {
    env: 'FLUXHOST_KEY_CONCURRENCY',
    flag: 'key-concurrency',
    kind: 'string',
    default: null as number | null,
    describe:
      `${FOR_KEYS} jobs one key may have queued or running at once; one more is ` +
      "refused with 429 and Retry-After (BFL's own account limit is 24). Empty: no limit.",
    parse: optionalLimit(1_000_000),
  },
  keyRpm: {
    env: 'FLUXHOST_KEY_RPM',
    flag: 'key-rpm',
    kind: 'string',
    default: null as number | null,
    describe:
      `${FOR_KEYS} creates one key may make per minute; one more is refused with 429, ` +
      'Retry-After and RateLimit headers. Empty: no limit.',
    parse: optionalLimit(1_000_000),
  },
  keyBudget: {
    env: 'FLUXHOST_KEY_BUDGET',
    flag: 'key-budget',
    kind: 'string',
    default: null as { usd: number; period: BudgetPeriod } | null,
    describe:
      `${FOR_KEYS} US dollars one key may spend per UTC day, week or month ` +
      '(`20/month`); a create that would pass it is refused with 402. Empty: no budget.',
    parse: budget,
  },
} as const satisfies Record<string, Setting<unknown>>
