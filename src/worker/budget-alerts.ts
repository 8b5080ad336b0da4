import { randomUUID } from 'node:crypto'
import type { Job } from '../domain/job.js'
import { type BudgetPeriod, periodBounds } from '../domain/limits.js'
import { formatUsd } from '../domain/money.js'

/** The shares of a budget (per cent) whose passing is announced: on the key's webhook and in the log. */
export const BUDGET_ALERTS = [80, 100] as const

/** A success's settlement, as the store returns it. */
export interface Settlement {
  before: number
  after: number
  /** The budget in force, micro-dollars; -1: none. */
  budgetMicros: number
  period: BudgetPeriod
  eventWebhookUrl: string | null
}

/** The shares of the budget this settlement took the key's period spend past (each once per period). */
export function crossedShares(settlement: Settlement): number[] {
  const { budgetMicros, before, after } = settlement
  if (budgetMicros <= 0) return []
  return BUDGET_ALERTS.filter((percent) => {
    const line = (budgetMicros * percent) / 100
    return before < line && after >= line
  })
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
      spentUsd: formatUsd(settlement.after),
      budgetUsd: formatUsd(settlement.budgetMicros),
      period: settlement.period,
      periodStart: new Date(bounds.start).toISOString(),
      periodEnd: new Date(bounds.end).toISOString(),
      jobId: job.id,
    },
  }
  return { id: `msg_${randomUUID().replaceAll('-', '')}`, payload: JSON.stringify(body), data: body.data }
}
