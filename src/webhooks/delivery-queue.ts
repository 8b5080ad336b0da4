import type { Clock } from '../domain/clock.js'
import { createWakeups } from '../queue/wakeups.js'
import type { DeliveryRow } from '../store/delivery-repository.js'
import type { Store } from '../store/store.js'

/**
 * Hands due webhook deliveries to dispatchers, from the webhook_deliveries table. A delivery
 * row is made by a trigger in the transaction that ends its job; a claimed delivery is
 * `delivering` under the claimer's lease until its attempt is recorded.
 */
export interface DeliveryQueue {
  /** Takes the next due delivery under a lease, or undefined when none is due. */
  claim(owner: string): Promise<DeliveryRow | undefined>
  /** Resolves when a delivery may be due, after `maxWaitMs`, or when `signal` aborts. */
  waitForWork(signal: AbortSignal, maxWaitMs: number): Promise<void>
  /** A delivery may be due now: the waiting dispatcher looks again. */
  wake(): void
  /** Back to pending at once, the attempt not counted (shutdown). */
  release(id: string, owner: string): Promise<void>
  /** Deliveries back to pending from dead or expired leases; returns their ids. */
  recover(): Promise<string[]>
}

export interface DeliveryQueueOptions {
  store: Store
  clock: Clock
  leaseMs: number
  /** Delay before a round's first attempt (the retry schedule's first entry). */
  firstDelayMs: number
  /** Whether a lease owner is certainly dead (recovered before its lease expires). */
  isDead(owner: string): boolean
}

export function createDeliveryQueue(options: DeliveryQueueOptions): DeliveryQueue {
  const { store, clock, leaseMs, firstDelayMs } = options
  const wakeups = createWakeups()
  return {
    claim: (owner) => store.deliveries.claimDue(owner, clock.now(), leaseMs, firstDelayMs),

    waitForWork: (signal, maxWaitMs) =>
      wakeups.wait(signal, async () => {
        const next = await store.deliveries.nextDueAt(firstDelayMs)
        return next === undefined ? maxWaitMs : Math.min(maxWaitMs, next - clock.now())
      }),

    wake: () => wakeups.wake(),

    release: (id, owner) => store.deliveries.release(id, owner),

    async recover() {
      const recovered = await store.deliveries.recover(clock.now(), options.isDead)
      return recovered.map((r) => r.id)
    },
  }
}
