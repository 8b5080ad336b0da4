import type { Clock } from '../domain/clock.js'
import type { Claim } from '../store/idempotency-repository.js'
import type { Store } from '../store/store.js'

export interface IdempotencyServiceDeps {
  store: Store
  clock: Clock
  /** How long a kept answer is replayed (`FLUXHOST_IDEMPOTENCY_TTL`). */
  ttlMs: number
}

/** Idempotency keys: who holds a key, and the answers kept for replays. */
export function createIdempotencyService({ store, clock, ttlMs }: IdempotencyServiceDeps) {
  return {
    ttlMs,
    /** Takes `key` for a request with this fingerprint, held at most `lockMs`; or says why not. */
    claim(apiKeyId: string, key: string, fingerprint: string, lockMs: number): Promise<Claim> {
      const now = clock.now()
      return store.transaction((tx) => tx.idempotency.claim(apiKeyId, key, fingerprint, now, now + lockMs, now + ttlMs))
    },
    /** Keeps the answer (or the job to re-render it from) for replays. */
    complete(apiKeyId: string, key: string, answer: { status: number; body: string | null; contentType: string | null; jobId: string | null }): Promise<void> {
      return store.idempotency.complete(apiKeyId, key, answer)
    },
    /** Forgets a key whose request should run afresh when retried. */
    release(apiKeyId: string, key: string): Promise<void> {
      return store.idempotency.release(apiKeyId, key)
    },
    /** Deletes expired keys; returns how many. */
    sweep(): Promise<number> {
      return store.idempotency.deleteExpired(clock.now())
    },
  }
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>
