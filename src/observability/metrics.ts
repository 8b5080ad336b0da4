import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { JOB_STATES, type JobState } from '../domain/job.js'

export interface MetricsSources {
  countByState(): Promise<Record<JobState, number>>
  queueDepth(): Promise<number>
}

/**
 * Prometheus metrics on a registry of our own (never the global one, so two servers in
 * one test process do not collide). Gauges read the store when scraped.
 */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })

  const httpDuration = new Histogram({
    name: 'fluxhost_http_request_duration_seconds',
    help: 'HTTP request latency by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  const engineDuration = new Histogram({
    name: 'fluxhost_engine_duration_seconds',
    help: 'Time an engine spent on one attempt, by engine and outcome.',
    labelNames: ['engine', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  })
  const jobsFinished = new Counter({
    name: 'fluxhost_jobs_finished_total',
    help: 'Jobs this process finished, by final state.',
    labelNames: ['state'] as const,
    registers: [registry],
  })

  const safetyDuration = new Histogram({
    name: 'fluxhost_safety_check_duration_seconds',
    help: "Time the output classifier took for one job's images, by outcome (passed, flagged).",
    labelNames: ['outcome'] as const,
    buckets: [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2],
    registers: [registry],
  })
  const webhookAttempts = new Histogram({
    name: 'fluxhost_webhook_attempt_duration_seconds',
    help: 'Webhook delivery attempts by outcome (delivered, retry, failed, stopped) and how long the receiver took.',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  })

  const refusals = new Counter({
    name: 'fluxhost_refusals_total',
    help: "Creates refused by their key's limits, by reason (rpm, concurrency, credits, budget).",
    labelNames: ['reason'] as const,
    registers: [registry],
  })

  const unanswered = new Counter({
    name: 'fluxhost_sync_unanswered_total',
    help:
      'Synchronous calls whose job was left for a retry to join, by why the answer did not reach ' +
      'the client (left: it hung up; timed_out: FLUXHOST_SYNC_TIMEOUT_S), and retries that joined one (joined).',
    labelNames: ['event'] as const,
    registers: [registry],
  })

  return {
    registry,
    refusals,
    unanswered,
    webhookAttempts,
    safetyDuration,
    httpDuration,
    engineDuration,
    jobsFinished,
    /** Adds the gauges that read the records; call once, from the composition root. */
    watch(sources: MetricsSources) {
      new Gauge({
        name: 'fluxhost_jobs',
        help: 'Jobs in the records, by state.',
        labelNames: ['state'] as const,
        registers: [registry],
        async collect() {
          const counts = await sources.countByState()
          for (const state of JOB_STATES) this.set({ state }, counts[state])
        },
      })
      new Gauge({
        name: 'fluxhost_queue_depth',
        help: 'Jobs waiting to be claimed.',
        registers: [registry],
        async collect() {
          this.set(await sources.queueDepth())
        },
      })
    },
  }
}

export type Metrics = ReturnType<typeof createMetrics>
