/** How a delay grows between tries: `initialMs`, times `factor` each step, at most `maxMs`. */
export interface BackoffPolicy {
  initialMs: number
  factor: number
  maxMs: number
}

/** The delay before try `step` (0: the first retry). */
export function backoffDelay(step: number, { initialMs, factor, maxMs }: BackoffPolicy): number {
  return Math.min(maxMs, Math.round(initialMs * factor ** Math.max(0, step)))
}

/**
 * A growing delay for a loop that polls or reconnects: `next()` gives the delay to wait now
 * and grows it; `reset()` starts over after a success. Every poll and reconnect loop of
 * fluxhost (engines polling upstreams, the LISTEN connection, ComfyUI's websocket) uses one.
 */
export function createBackoff(policy: BackoffPolicy) {
  let step = 0
  return {
    next: () => backoffDelay(step++, policy),
    /** The delay `next()` would give, without growing it. */
    peek: () => backoffDelay(step, policy),
    reset() {
      step = 0
    },
  }
}

export type Backoff = ReturnType<typeof createBackoff>
