import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { Webhook } from 'standardwebhooks'
import type { Clock } from '../domain/clock.js'
import { isTerminal, type Job } from '../domain/job.js'
import { FetchRefused, type Outbound } from '../net/outbound.js'
import { parseRetryAfter } from '../net/retry-after.js'
import type { JobEvents } from '../queue/job-events.js'
import type { DeliveryRow } from '../store/delivery-repository.js'
import type { AttemptOutcome } from '../store/schema.js'
import type { Store } from '../store/store.js'
import type { DeliveryQueue } from './delivery-queue.js'
import { endingEvent, endingWanted } from './events.js'
import { keyDigestSignature } from './key-digest.js'

export interface DispatcherDeps {
  store: Store
  outbound: Outbound
  events: JobEvents
  clock: Clock
  logger: Logger
  /** Lease owner id (`host:pid:token`), as the job runner's. */
  owner: string
  /** Where due deliveries come from. */
  queue: DeliveryQueue
  /** Delay before each attempt of a round, in ms (`FLUXHOST_WEBHOOK_RETRY_SCHEDULE`). */
  scheduleMs: readonly number[]
  timeoutMs: number
  concurrency: number
  /** The `whsec_` secret of an API key. */
  secretFor(apiKeyId: string): Promise<string>
  /** BFL's `webhook_secret` of a job as the records keep it (sealed), in clear. */
  jobSecret(stored: string, jobId: string): string
  /** The body for a finished job: what its dialect's read route returns, as JSON. */
  render(job: Job): string
  userAgent: string
  /** How often to look for deliveries made by another process, and for stuck leases. */
  pollMs?: number
  /** After each attempt is recorded (metrics; tests wait on it). */
  onAttempt?(attempt: { deliveryId: string; jobId: string; outcome: AttemptOutcome; latencyMs: number }): void
}

/** How an attempt went; `skipped`: not sent, and why (the row ends `stopped`). */
interface Outcome {
  status?: number
  retryAfter?: number
  error?: string
  retryable: boolean
  skipped?: string
}

/** The job ended in a way its `webhookEvents` do not ask for: nothing is sent. */
class NotWanted extends Error {
  constructor(ending: string, events: readonly string[]) {
    super(`not sent: the job's webhookEvents [${events.join(', ')}] do not include ${ending}`)
  }
}

/** A delivery's lease: the longest POST and time to record it. */
export const deliveryLeaseMs = (timeoutMs: number) => timeoutMs + 30_000

export interface WebhookDispatcher {
  start(): Promise<void>
  /** Stops claiming; POSTs still under way after `graceMs` are aborted and not counted. */
  stop(graceMs: number): Promise<void>
  /** A delivery may be due now (a redelivery). */
  wake(): void
  /** In flight right now. */
  active(): number
}

/**
 * Delivers webhooks: claims due deliveries under a lease, POSTs the job's body signed per
 * Standard Webhooks, and records each attempt. 2xx ends a delivery; 410 stops it; 429, 5xx,
 * timeouts and connection errors are retried on the schedule (or after `Retry-After` when it
 * asks for longer); other answers (3xx, 4xx) and refused addresses fail it at once.
 */
export function createWebhookDispatcher(deps: DispatcherDeps): WebhookDispatcher {
  const { store, outbound, clock, logger, owner, scheduleMs, timeoutMs, concurrency, queue } = deps
  const pollMs = deps.pollMs ?? 1000
  const leaseMs = deliveryLeaseMs(timeoutMs)
  const inFlight = new Map<string, { abort: AbortController; done: Promise<void> }>()
  const stopping = new AbortController()
  let loop: Promise<void> | undefined
  let unsubscribe: (() => void) | undefined

  const wake = () => queue.wake()

  const decide = (delivery: DeliveryRow, now: number, result: Outcome) => {
    const { status } = result
    if (result.skipped) return { outcome: 'stopped' as const, error: result.skipped }
    if (status !== undefined && status >= 200 && status < 300) return { outcome: 'delivered' as const, error: null }
    if (status === 410)
      return { outcome: 'stopped' as const, error: 'HTTP 410 Gone: the receiver asked for no more deliveries' }
    const error =
      result.error ??
      (status !== undefined && status >= 300 && status < 400
        ? `HTTP ${status}: redirects are not followed`
        : `HTTP ${status}`)
    const retryable = status === undefined ? result.retryable : status === 429 || status >= 500
    if (!retryable) return { outcome: 'failed' as const, error }
    const next = delivery.round_attempts + 1
    if (next >= scheduleMs.length)
      return { outcome: 'failed' as const, error: `${error}; gave up after ${next} attempts` }
    return {
      outcome: 'retry' as const,
      error,
      nextAttemptAt: now + Math.max(scheduleMs[next]!, result.retryAfter ?? 0),
    }
  }

  const deliver = async (delivery: DeliveryRow, abort: AbortController) => {
    const log = logger.child({ deliveryId: delivery.id, jobId: delivery.job_id })
    const startedAt = clock.now()
    const started = performance.now()
    let result: Outcome
    try {
      // A key event (a budget alert) carries its body; a job's webhook is the job as its API shows it.
      const job = delivery.payload === null ? await store.jobs.get(delivery.job_id) : undefined
      if (delivery.payload === null) {
        if (!job || !isTerminal(job.state)) throw new Error(`job ${delivery.job_id} is not finished`)
        // Its owner deleted it while a retry was pending: nothing left to tell, and not worth retrying.
        if (job.deletedAt) throw new FetchRefused('the job was deleted; not sent', false)
        if (!endingWanted(job)) throw new NotWanted(endingEvent(job), job.request.webhook?.events ?? [])
      }
      const body = delivery.payload ?? deps.render(job!)
      const secret = await deps.secretFor(delivery.api_key_id)
      const timestamp = new Date(Math.floor(clock.now() / 1000) * 1000)
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': deps.userAgent,
        'webhook-id': delivery.id,
        'webhook-timestamp': String(timestamp.getTime() / 1000),
        'webhook-signature': new Webhook(secret).sign(delivery.id, timestamp, body),
      }
      if (job?.request.webhook?.secret) headers['x-webhook-secret'] = deps.jobSecret(job.request.webhook.secret, job.id)
      if (job?.dialect === 'apiframe') {
        const signature = await keyDigestSignature(store, delivery.api_key_id, body)
        if (signature) headers['x-webhook-signature'] = signature
      }
      const answer = await outbound.post(delivery.url, body, headers, { timeoutMs, signal: abort.signal })
      result = {
        status: answer.status,
        retryAfter: parseRetryAfter(answer.headers['retry-after'], clock.now()),
        retryable: false,
      }
    } catch (error) {
      if (abort.signal.aborted) {
        // Shutting down: not the receiver's fault, so the attempt does not count.
        await queue.release(delivery.id, owner).catch(() => undefined)
        return
      }
      if (error instanceof NotWanted) result = { skipped: error.message, retryable: false }
      else if (error instanceof FetchRefused) result = { error: error.message, retryable: error.retryable }
      else {
        log.error({ err: error }, 'webhook:error')
        result = { error: `could not send: ${(error as Error).message}`, retryable: true }
      }
    }
    const latencyMs = performance.now() - started
    const now = clock.now()
    const decision = decide(delivery, now, result)
    const settled = await store.transaction((tx) =>
      tx.deliveries.settle(delivery, owner, {
        startedAt,
        latencyMs,
        status: result.status ?? null,
        error: decision.error,
        outcome: decision.outcome,
        nextAttemptAt: 'nextAttemptAt' in decision ? decision.nextAttemptAt : undefined,
        now,
      }),
    )
    // A retry is due later: the waiting loop works out when.
    if (settled && decision.outcome === 'retry') queue.wake()
    if (settled)
      deps.onAttempt?.({ deliveryId: delivery.id, jobId: delivery.job_id, outcome: decision.outcome, latencyMs })
    if (!settled) log.warn('webhook:lease-lost')
    else if (decision.outcome === 'delivered')
      log.info({ status: result.status, ms: Math.round(latencyMs) }, 'webhook:delivered')
    else log.warn({ status: result.status, error: decision.error, outcome: decision.outcome }, 'webhook:attempt-failed')
  }

  const stopped = new Promise<void>((resolve) =>
    stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
  )

  const recover = async () => {
    const recovered = await queue.recover()
    if (recovered.length > 0) logger.warn({ deliveries: recovered }, 'webhook:recovered')
  }

  const claimLoop = async () => {
    let lastRecovery = clock.now()
    while (!stopping.signal.aborted) {
      try {
        if (clock.now() - lastRecovery > leaseMs / 2) {
          lastRecovery = clock.now()
          await recover()
        }
        if (inFlight.size >= concurrency) {
          await Promise.race([...[...inFlight.values()].map((f) => f.done), stopped])
          continue
        }
        const delivery = await queue.claim(owner)
        if (!delivery) {
          await queue.waitForWork(stopping.signal, pollMs)
          continue
        }
        const abort = new AbortController()
        const done = deliver(delivery, abort)
          .catch((error: unknown) => logger.error({ err: error, deliveryId: delivery.id }, 'webhook:dispatch-error'))
          .finally(() => inFlight.delete(delivery.id))
        inFlight.set(delivery.id, { abort, done })
      } catch (error) {
        logger.error({ err: error }, 'webhook:loop-error')
        await sleep(pollMs, undefined, { signal: stopping.signal }).catch(() => undefined)
      }
    }
  }

  return {
    async start() {
      await recover()
      // A job that ended may have made deliveries (its trigger did); a redelivery is due now.
      unsubscribe = deps.events.subscribeAll((event) => {
        if ((event.type === 'state' && isTerminal(event.state) && event.webhook !== false) || event.type === 'delivery')
          wake()
      })
      loop = claimLoop()
    },

    async stop(graceMs) {
      unsubscribe?.()
      stopping.abort()
      await loop
      const pending = [...inFlight.values()]
      const timer = setTimeout(() => {
        for (const f of pending) f.abort.abort()
      }, graceMs)
      await Promise.all(pending.map((f) => f.done))
      clearTimeout(timer)
    },

    wake,
    active: () => inFlight.size,
  }
}
