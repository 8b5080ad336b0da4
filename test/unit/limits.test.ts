import { describe, expect, it } from 'vitest'
import { parseBudget, periodBounds } from '../../src/domain/limits.js'
import { limitReached, standingOf } from '../../src/services/limits.js'
import { type Settlement, sharesToAnnounce } from '../../src/worker/budget-alerts.js'

const at = (iso: string) => Date.parse(iso)
const iso = (ms: number) => new Date(ms).toISOString()

describe('budget periods (UTC)', () => {
  it('days, weeks from Monday, and months, across year ends and leap days', () => {
    const bounds = (period: 'day' | 'week' | 'month', when: string) => {
      const { start, end } = periodBounds(period, at(when))
      return [iso(start), iso(end)]
    }
    expect(bounds('day', '2026-11-25T23:59:59.999Z')).toEqual(['2026-11-25T00:00:00.000Z', '2026-11-26T00:00:00.000Z'])
    // 2026-11-25 is a Wednesday; 2026-11-23 the Monday before; a Sunday belongs to the week before it.
    expect(bounds('week', '2026-11-25T12:00:00Z')).toEqual(['2026-11-23T00:00:00.000Z', '2026-11-30T00:00:00.000Z'])
    expect(bounds('week', '2026-11-29T23:00:00Z')).toEqual(['2026-11-23T00:00:00.000Z', '2026-11-30T00:00:00.000Z'])
    expect(bounds('week', '2026-11-30T00:00:00Z')).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z'])
    expect(bounds('week', '1970-01-01T00:00:00Z')).toEqual(['1969-12-29T00:00:00.000Z', '1970-01-05T00:00:00.000Z'])
    expect(bounds('month', '2026-12-31T23:59:59Z')).toEqual(['2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'])
    expect(bounds('month', '2028-02-29T10:00:00Z')).toEqual(['2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'])
  })

  it('parses budgets as dollars per period, and nothing else', () => {
    expect(parseBudget('20/month')).toEqual({ usd: 20, period: 'month' })
    expect(parseBudget(' $5.50 / Day ')).toEqual({ usd: 5.5, period: 'day' })
    for (const bad of ['20/year', '20', '/month', '-5/day', '1e3/day', '20/month/x'])
      expect(parseBudget(bad)).toBeUndefined()
  })
})

describe('budget alerts', () => {
  const settled = (spent: number, amount: number, alreadyAlerted = 0): Settlement => ({
    amountMicros: amount,
    spentMicros: spent,
    budgetMicros: 100_000,
    period: 'day',
    periodStart: 0,
    alreadyAlerted,
    eventWebhookUrl: null,
  })
  it('announce 80 % and 100 % once each; 100 % also when what is left covers no job like the last', () => {
    expect(sharesToAnnounce(settled(40_000, 40_000))).toEqual([])
    expect(sharesToAnnounce(settled(80_000, 40_000))).toEqual([80, 100]) // $0.02 left, jobs of $0.04
    expect(sharesToAnnounce(settled(80_000, 10_000))).toEqual([80])
    expect(sharesToAnnounce(settled(90_000, 10_000, 80))).toEqual([])
    expect(sharesToAnnounce(settled(100_000, 10_000, 80))).toEqual([100])
    expect(sharesToAnnounce(settled(100_000, 10_000, 100))).toEqual([])
    expect(sharesToAnnounce({ ...settled(100_000, 10_000), budgetMicros: -1 })).toEqual([])
  })
})

describe('which limit refuses a create', () => {
  const row = {
    maxConcurrency: null,
    rpmLimit: null,
    creditsMicros: null,
    budgetMicros: null,
    budgetPeriod: null,
    activeJobs: 0,
    reservedMicros: 0,
    rpmWindow: 0,
    rpmCount: 0,
    periodStart: 0,
    periodSpentMicros: 0,
    eventWebhookUrl: null,
    source: 'db' as const,
  }
  const now = at('2026-11-25T12:00:30Z')
  it('the server defaults hold keys made in the records only, and a key setting of none outranks them', () => {
    const defaults = { concurrency: 2 }
    expect(limitReached(standingOf({ ...row, activeJobs: 2 }, defaults, now), 1)).toBe('concurrency')
    expect(limitReached(standingOf({ ...row, activeJobs: 2, source: 'env' }, defaults, now), 1)).toBeUndefined()
    expect(limitReached(standingOf({ ...row, activeJobs: 2, maxConcurrency: -1 }, defaults, now), 1)).toBeUndefined()
  })
  it('reads an old minute or an old period as nothing used', () => {
    const minute = Math.floor(now / 60_000) * 60_000
    const full = { ...row, rpmLimit: 3, rpmCount: 3 }
    expect(limitReached(standingOf({ ...full, rpmWindow: minute }, {}, now), 1)).toBe('rpm')
    expect(limitReached(standingOf({ ...full, rpmWindow: minute - 60_000 }, {}, now), 1)).toBeUndefined()
    const spent = { ...row, budgetMicros: 100, budgetPeriod: 'day' as const, periodSpentMicros: 100 }
    const today = periodBounds('day', now).start
    expect(limitReached(standingOf({ ...spent, periodStart: today }, {}, now), 1)).toBe('budget')
    expect(limitReached(standingOf({ ...spent, periodStart: today - 86_400_000 }, {}, now), 1)).toBeUndefined()
  })
})
