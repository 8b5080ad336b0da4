import { randomUUID } from 'node:crypto'
import type { Job } from '../domain/job.js'
import { type BudgetPeriod, periodBounds } from '../domain/limits.js'
import { formatUsd } from '../domain/money.js'

/** The shares of a budget (per cent) whose passing is announced: on the key's webhook and in the log. */
export const BUDGET_ALERTS = [80, 100] as const

/** A success's settlement, as the store returns it. */
export interface Settlement {
  /** What this job was charged. */
  amountMicros: number
  /** The period's spend, this charge included. */
  spentMicros: number
  /** The budget in force, micro-dollars; -1: none. */
  budgetMicros: number
  period: BudgetPeriod
  periodStart: number
  /** The highest alert already sent in this period (0: none). */
  alreadyAlerted: number
  eventWebhookUrl: string | null
}

/**
 * The budget alerts this settlement calls for, each sent once per period: 80 % once the
 * period's spend reaches 80 % of the budget; 100 % once it reaches the budget or what is left
 * no longer covers a job like this one (reservations never let spend pass the budget, so
 * "spent" is reached short of it when prices do not divide it).
 */
export function sharesToAnnounce(settlement: Settlement): number[] {
  const { budgetMicros: budget, spentMicros: spent, amountMicros, alreadyAlerted } = settlement
  if (budget <= 0) return []
  const reached = (percent: number) =>
    percent === 100 ? spent >= budget || budget - spent < amountMicros : spent * 100 >= budget * percent
  return BUDGET_ALERTS.filter((percent) => percent > alreadyAlerted && reached(percent))
}

/**
 * A budget alert as the key's webhook receives it (Standard Webhooks' `{type, timestamp, data}`),
 * with the id of the delivery that carries it.
 */
export function budgetAlert(job: Job, percent: number, settlement: Settlement, now: number) {
  const bounds = periodBounds(settlement.period, now)
  const body = {
    type: 'key.budget.threshold',
    timestamp: new Date(now).toISOString(),
    data: {
      keyId: job.apiKeyId,
      percent,
      spentUsd: formatUsd(settlement.spentMicros),
      budgetUsd: formatUsd(settlement.budgetMicros),
      period: settlement.period,
      periodStart: new Date(bounds.start).toISOString(),
      periodEnd: new Date(bounds.end).toISOString(),
      jobId: job.id,
    },
  }
  return { id: `msg_${randomUUID().replaceAll('-', '')}`, payload: JSON.stringify(body), data: body.data }
}
