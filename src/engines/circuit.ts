import type { EngineErrorKind } from './engine-error.js'

export interface CircuitOptions {
  /** Consecutive `unavailable` outcomes that open the circuit (default 3). */
  threshold?: number
  /** How long an open circuit keeps the engine out before one probe is let through (default 30 s). */
  openMs?: number
  /** How long one probe holds a half-open circuit before another job may probe (default 60 s). */
  probeMs?: number
  now?: () => number
}

export type CircuitState = 'closed' | 'open' | 'half-open'

const MAX_OPEN_MS = 5 * 60_000

/**
 * A per-engine circuit breaker: after `threshold` consecutive `unavailable` outcomes, or at once
 * on a 429 or an out-of-credit answer, the engine is skipped for `openMs` (a rate limit's
 * Retry-After, when longer). Then one job probes it (half-open): success closes the circuit,
 * another failure opens it again. Jobs that find it open go to the next engine of the route.
 */
export function createCircuit(options: CircuitOptions = {}) {
  const threshold = options.threshold ?? 3
  const openMs = options.openMs ?? 30_000
  const now = options.now ?? Date.now
  let failures = 0
  let openUntil = 0
  let state: CircuitState = 'closed'
  let probing = false
  let probeAt = 0
  /** A probe that has not ended after this long (a long task) lets another one go. */
  const probeMs = options.probeMs ?? 60_000
  const probeHeld = () => probing && now() - probeAt < probeMs
  let reason: string | undefined

  const open = (why: string, ms: number) => {
    state = 'open'
    openUntil = now() + ms
    probing = false
    reason = why
  }

  const current = (): CircuitState => {
    if (state === 'open' && now() >= openUntil) state = 'half-open'
    return state
  }

  return {
    state: current,
    /** Whether a job would be turned away now (asks nothing, hands out no probe). */
    blocked: (): boolean => current() === 'open' || (current() === 'half-open' && probeHeld()),
    /** Why it is open (the last failure's kind), while it is. */
    reason: () => (state === 'closed' ? undefined : reason),
    /** When an open circuit lets its next probe through (epoch ms), or 0. */
    opensAt: () => (state === 'closed' ? 0 : openUntil),
    /** Whether a job may use the engine now; in half-open, only one probe at a time. */
    allow(): boolean {
      const at = current()
      if (at === 'closed') return true
      if (at === 'open' || probeHeld()) return false
      probing = true
      probeAt = now()
      return true
    },
    success(): void {
      failures = 0
      state = 'closed'
      probing = false
      reason = undefined
    },
    /** Records a failed job; only kinds that say the engine is unhealthy count. */
    failure(kind: EngineErrorKind, retryAfterMs?: number): void {
      if (kind === 'rate_limited' || kind === 'insufficient_credits') {
        // A Retry-After of a day would keep the engine out of this process for a day: at most 5 min.
        open(kind, Math.min(MAX_OPEN_MS, Math.max(openMs, kind === 'rate_limited' ? (retryAfterMs ?? 0) : 0)))
        return
      }
      if (kind !== 'unavailable') {
        // The engine answered (a moderation, a rejected input): it is up.
        if (state === 'half-open') {
          failures = 0
          state = 'closed'
          probing = false
          reason = undefined
        }
        return
      }
      failures++
      if (state === 'half-open' || failures >= threshold) open(kind, openMs)
    },
    /** A probe that ended without a verdict (canceled): another may go. */
    release(): void {
      probing = false
    },
  }
}

export type Circuit = ReturnType<typeof createCircuit>
