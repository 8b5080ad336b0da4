import type { Clock } from '../domain/clock.js'
import { createWakeups } from '../queue/wakeups.js'
import type { DeliveryRow } from '../store/delivery-repository.js'
import type { Store } from '../store/store.js'

/**
 * Hands due webhook deliveries to dispatchers. The delivery row is the truth (made by a
 * trigger when its job ends); the queue decides who sends what, and when. A claimed
 * delivery is `delivering` under the claimer's lease until its attempt is recorded.
 */
export interface DeliveryQueue {
  /** Takes the next due delivery under a lease, or undefined when none is due. */
  claim(owner: string): Promise<DeliveryRow | undefined>
  /** Resolves when a delivery may be due, after `maxWaitMs`, or when `signal` aborts. */
  waitForWork(signal: AbortSignal, maxWaitMs: number): Promise<void>
  /** A delivery may be due now (this process's dispatcher looks again). */
  wake(): void
  /** The attempt is recorded: the delivery is finished, or pending again at `nextAttemptAt`. */
  settled(id: string, owner: string, nextAttemptAt: number | undefined): Promise<void>
  /** The attempt could not be recorded (the lease was lost): let go of any hold on it. */
  forget?(id: string): void
  /** Back to pending at once, the attempt not counted (shutdown). */
  release(id: string, owner: string): Promise<void>
  /** Deliveries back to pending from dead or expired leases; returns their ids. */
  recover(): Promise<string[]>
  /** A delivery was asked for again (it is pending from now). */
  redelivered(delivery: DeliveryRow): Promise<void>
  close?(): Promise<void>
}

export interface RecordsDeliveryQueueOptions {
  store: Store
  clock: Clock
  leaseMs: number
  /** Delay before a round's first attempt (the retry schedule's first entry). */
  firstDelayMs: number
  /** Whether a lease owner is certainly dead (recovered before its lease expires). */
  isDead(owner: string): boolean
}

/** Deliveries straight from the webhook_deliveries table: the embedded default. */
export function createRecordsDeliveryQueue(options: RecordsDeliveryQueueOptions): DeliveryQueue {
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

    async settled(_id, _owner, nextAttemptAt) {
      if (nextAttemptAt !== undefined) wakeups.wake()
    },

    async release(id, owner) {
      await store.deliveries.release(id, owner)
    },

    async recover() {
      const recovered = await store.deliveries.recover(clock.now(), options.isDead)
      return recovered.map((r) => r.id)
    },

    async redelivered() {
      wakeups.wake()
    },
  }
}
