import { type Circuit, type CircuitOptions, type CircuitState, createCircuit } from './circuit.js'
import type { EngineErrorKind } from './engine-error.js'

/** What /api/models and the admin page show for one engine (this process's view). */
export interface EngineHealthSnapshot {
  state: CircuitState
  /** Why the circuit is open (`unavailable`, `rate_limited`, `insufficient_credits`). */
  reason?: string
  /** Time to a finished task over the last `samples` successes, in ms (null: none yet). */
  p50Ms: number | null
  p95Ms: number | null
  samples: number
  /** Tasks this engine ended in the last hour, and the share of them that failed. */
  jobsLastHour: number
  failureRate: number
}

const LATENCY_SAMPLES = 50
const HOUR_MS = 3_600_000
/** Outcomes kept for the hour's counts; past this, the oldest go (a busy engine's rate stays right). */
const MAX_OUTCOMES = 20_000

/**
 * One engine's health in this process: a circuit breaker, the durations of its last successes
 * (the `fastest` policy's p50), and its outcomes over the last hour.
 */
export function createEngineHealth(options: CircuitOptions = {}) {
  const now = options.now ?? Date.now
  const circuit: Circuit = createCircuit(options)
  const durations: number[] = []
  const outcomes: { at: number; ok: boolean }[] = []

  const prune = () => {
    const horizon = now() - HOUR_MS
    let drop = 0
    while (drop < outcomes.length && outcomes[drop]!.at < horizon) drop++
    if (outcomes.length - drop > MAX_OUTCOMES) drop = outcomes.length - MAX_OUTCOMES
    if (drop > 0) outcomes.splice(0, drop)
  }
  const percentile = (sorted: number[], p: number) =>
    sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

  return {
    circuit,
    succeeded(ms: number): void {
      circuit.success()
      durations.push(ms)
      if (durations.length > LATENCY_SAMPLES) durations.shift()
      outcomes.push({ at: now(), ok: true })
      prune()
    },
    failed(kind: EngineErrorKind, retryAfterMs?: number): void {
      if (kind === 'canceled') {
        circuit.release()
        return
      }
      circuit.failure(kind, retryAfterMs)
      // A moderation or a rejected input is the engine working as it should.
      const engineFault = kind === 'unavailable' || kind === 'failed' || kind === 'rate_limited'
      outcomes.push({ at: now(), ok: !engineFault && kind !== 'insufficient_credits' })
      prune()
    },
    /** The median time of recent successes, or undefined with fewer than `min` of them. */
    p50(min = 3): number | undefined {
      if (durations.length < min) return undefined
      return (
        percentile(
          [...durations].sort((a, b) => a - b),
          0.5,
        ) ?? undefined
      )
    },
    snapshot(): EngineHealthSnapshot {
      prune()
      const sorted = [...durations].sort((a, b) => a - b)
      const failures = outcomes.filter((o) => !o.ok).length
      const state = circuit.state()
      return {
        state,
        ...(state === 'closed' ? {} : { reason: circuit.reason() }),
        p50Ms: percentile(sorted, 0.5),
        p95Ms: percentile(sorted, 0.95),
        samples: sorted.length,
        jobsLastHour: outcomes.length,
        failureRate: outcomes.length === 0 ? 0 : Math.round((failures / outcomes.length) * 1000) / 1000,
      }
    },
  }
}

export type EngineHealth = ReturnType<typeof createEngineHealth>
