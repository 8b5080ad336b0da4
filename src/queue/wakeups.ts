/**
 * Wake-ups for idle workers in one process. A wake-up that comes while nobody waits is
 * kept for the next wait, so work announced between a worker's empty claim and its wait
 * is never slept through.
 */
export interface Wakeups {
  wake(): void
  /**
   * Resolves on a wake-up (also one that came before this call), when `signal` aborts, or
   * after the delay that `delayMs` computes; the wait is registered before that runs.
   */
  wait(signal: AbortSignal, delayMs: () => Promise<number>): Promise<void>
}

export function createWakeups(): Wakeups {
  const waiters = new Set<() => void>()
  let signalled = false
  return {
    wake() {
      signalled = true
      for (const wake of [...waiters]) wake()
    },

    async wait(signal, delayMs) {
      if (signal.aborted) return
      if (signalled) {
        signalled = false
        return
      }
      let timer: NodeJS.Timeout | undefined
      let done!: () => void
      let over = false
      const woken = new Promise<void>((resolve) => {
        done = () => {
          over = true
          clearTimeout(timer)
          waiters.delete(done)
          signal.removeEventListener('abort', done)
          signalled = false
          resolve()
        }
        waiters.add(done)
        signal.addEventListener('abort', done, { once: true })
      })
      // The delay is computed while the wait already listens: a wake-up or an abort ends the
      // wait even if computing the delay hangs (records that are away). An error
      // computing it ends the wait and is thrown.
      let failure: { error: unknown } | undefined
      void delayMs().then(
        (delay) => {
          if (!over) timer = setTimeout(done, Math.max(0, delay))
        },
        (error: unknown) => {
          if (over) return
          failure = { error }
          done()
        },
      )
      await woken
      if (failure) throw failure.error
    },
  }
}
