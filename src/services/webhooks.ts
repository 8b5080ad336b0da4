import type { ApiKey } from '../domain/api-key.js'
import type { Clock } from '../domain/clock.js'
import { FluxhostError } from '../domain/errors.js'
import { isTerminal, type Job } from '../domain/job.js'
import type { JobEvents } from '../queue/job-events.js'
import type { AttemptRow, DeliveryRow } from '../store/delivery-repository.js'
import type { Store } from '../store/store.js'
import { sendsWebhook } from '../webhooks/events.js'
import type { JobService } from './jobs.js'

/** Where a job's own webhook stands (Apiframe's `webhookStatus`); null: none is to be sent. */
export type WebhookStatus = 'pending' | 'delivered' | 'failed' | null

function statusOfRow(state: DeliveryRow['state'] | undefined): WebhookStatus {
  switch (state) {
    case undefined:
      // Retention removed the finished delivery.
      return null
    case 'pending':
    case 'delivering':
      return 'pending'
    case 'delivered':
      return 'delivered'
    case 'failed':
    case 'stopped':
      return 'failed'
  }
}

export interface DeliveryAttempt {
  attempt: number
  at: Date
  latencyMs: number
  status: number | null
  error: string | null
  outcome: AttemptRow['outcome']
}

/** A webhook message for a finished job, with every attempt made. */
export interface Delivery {
  id: string
  /** `job`: the job's own webhook; `key.budget.threshold`: a budget alert its charge set off. */
  event: string
  jobId: string
  url: string
  state: DeliveryRow['state']
  attempts: DeliveryAttempt[]
  nextAttemptAt: Date | null
  lastStatus: number | null
  lastError: string | null
  createdAt: Date
  finishedAt: Date | null
}

/** The `type` of a key event's body. */
function eventType(payload: string): string {
  try {
    return String((JSON.parse(payload) as { type?: unknown }).type ?? 'key')
  } catch {
    return 'key'
  }
}

function toDelivery(row: DeliveryRow, attempts: AttemptRow[]): Delivery {
  return {
    id: row.id,
    event: row.payload === null ? 'job' : eventType(row.payload),
    jobId: row.job_id,
    url: row.url,
    state: row.state,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      at: new Date(Number(a.started_at)),
      latencyMs: a.latency_ms,
      status: a.status,
      error: a.error,
      outcome: a.outcome,
    })),
    nextAttemptAt: row.next_attempt_at === null ? null : new Date(Number(row.next_attempt_at)),
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: new Date(Number(row.created_at)),
    finishedAt: row.finished_at === null ? null : new Date(Number(row.finished_at)),
  }
}

export interface WebhookServiceDeps {
  store: Store
  jobs: JobService
  events: JobEvents
  clock: Clock
}

/** Webhook deliveries as clients see them: per job, with their attempts; redelivery. */
export function createWebhookService({ store, jobs, events, clock }: WebhookServiceDeps) {
  // A delivery's new state and its attempt are committed together, but on PostgreSQL each
  // statement sees the latest commits, not one snapshot: read the attempts, then the rows
  // again, and read once more if a row counts attempts the first read did not see.
  const withAttempts = async (rows: DeliveryRow[]) => {
    for (let tries = 1; ; tries++) {
      const attempts = await store.deliveries.attempts(rows.map((r) => r.id))
      const fresh = await Promise.all(rows.map(async (row) => (await store.deliveries.get(row.id)) ?? row))
      const of = (row: DeliveryRow) => attempts.filter((a) => a.delivery_id === row.id)
      if (tries < 3 && fresh.some((row) => of(row).length !== row.attempts)) continue
      return fresh.map((row) => toDelivery(row, of(row)))
    }
  }
  const getOwned = async (id: string, apiKey: ApiKey | undefined) => {
    const row = await store.deliveries.get(id)
    if (!row || (apiKey && row.api_key_id !== apiKey.id)) throw new FluxhostError('DELIVERY_NOT_FOUND')
    return row
  }

  return {
    /** The job's deliveries (none until it has finished with a webhook_url). */
    async listForJob(jobId: string, apiKey: ApiKey | undefined): Promise<Delivery[]> {
      await jobs.get(jobId, apiKey)
      return withAttempts(await store.deliveries.listByJob(jobId))
    },

    /** The newest deliveries of every key (operators: the admin pages). */
    async recent(options: { state?: DeliveryRow['state']; limit?: number } = {}): Promise<Delivery[]> {
      return withAttempts(
        await store.deliveries.recent({ state: options.state, limit: Math.min(Math.max(options.limit ?? 50, 1), 200) }),
      )
    },

    /**
     * Each job's webhook status: pending until its webhook is sent (or while it is retried),
     * then delivered or failed (its newest delivery, where it was redelivered); null for a job
     * with no webhook, or none for how it ended. One read for the whole page.
     */
    async statusOf(jobs: readonly Job[]): Promise<Map<string, WebhookStatus>> {
      const ended = jobs.filter((job) => sendsWebhook(job) && isTerminal(job.state)).map((job) => job.id)
      // One statement for the page; a key's own events (budget alerts) are not the job's webhook.
      const states = new Map((await store.deliveries.jobWebhookStates(ended)).map((row) => [row.job_id, row.state]))
      return new Map(
        jobs.map((job): [string, WebhookStatus] => {
          if (!sendsWebhook(job)) return [job.id, null]
          if (!isTerminal(job.state)) return [job.id, 'pending']
          return [job.id, statusOfRow(states.get(job.id))]
        }),
      )
    },

    async get(id: string, apiKey: ApiKey | undefined): Promise<Delivery> {
      return (await withAttempts([await getOwned(id, apiKey)]))[0]!
    },

    /** Sends a finished delivery again (same `webhook-id`), with a fresh retry schedule. */
    async redeliver(id: string, apiKey: ApiKey | undefined): Promise<Delivery> {
      await getOwned(id, apiKey)
      const row = await store.deliveries.redeliver(id, clock.now())
      if (!row) throw new FluxhostError('DELIVERY_IN_PROGRESS')
      // Pending from now: a dispatcher in any process takes it.
      events.publish({ type: 'delivery', jobId: row.job_id })
      return (await withAttempts([row]))[0]!
    },
  }
}

export type WebhookService = ReturnType<typeof createWebhookService>
