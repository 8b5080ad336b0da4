import { randomUUID } from 'node:crypto'
import type { Clock } from '../domain/clock.js'
import type { Claim } from '../store/idempotency-repository.js'
import type { Store } from '../store/store.js'

export interface IdempotencyServiceDeps {
  store: Store
  clock: Clock
  /** How long a kept answer is replayed (`FLUXHOST_IDEMPOTENCY_TTL`). */
  ttlMs: number
}

/** A request's hold on a key: only the holder may attach a job to it, complete or release it. */
export interface Hold {
  apiKeyId: string
  key: string
  holder: string
}

/**
 * The keys of jobs left for a retry (`noteUnanswered`): a client's Idempotency-Key is
 * printable ASCII, so none can be spelled like them.
 */
const UNANSWERED_PREFIX = 'unanswered\u00b7'

/** Idempotency keys: who holds a key, and the answers kept for replays. */
export function createIdempotencyService({ store, clock, ttlMs }: IdempotencyServiceDeps) {
  return {
    ttlMs,
    /** Takes `key` for a request with this fingerprint, held at most `lockMs`; or says why not. */
    async claim(
      apiKeyId: string,
      key: string,
      fingerprint: string,
      lockMs: number,
    ): Promise<{ claim: Claim; hold: Hold }> {
      const now = clock.now()
      const hold = { apiKeyId, key, holder: randomUUID() }
      const claim = await store.idempotency.claim(
        apiKeyId,
        key,
        fingerprint,
        hold.holder,
        now,
        now + lockMs,
        now + ttlMs,
      )
      return { claim, hold }
    },
    /** Keeps the answer (or the job to re-render it from) for replays. */
    complete(
      hold: Hold,
      answer: { status: number; body: string | null; contentType: string | null; jobId: string | null },
    ): Promise<void> {
      return store.idempotency.complete(hold.apiKeyId, hold.key, hold.holder, answer)
    },
    /** Forgets a key whose request should run afresh when retried. */
    release(hold: Hold): Promise<void> {
      return store.idempotency.release(hold.apiKeyId, hold.key, hold.holder)
    },
    /**
     * Leaves `jobId`, whose answer did not reach its client (`status` 499: it left; 504: the
     * wait timed out), for `takeUnanswered` by a retry of the same call, for `windowMs`.
     */
    noteUnanswered(apiKeyId: string, fingerprint: string, jobId: string, status: number, windowMs: number) {
      const now = clock.now()
      const key = `${UNANSWERED_PREFIX}${jobId}`
      return store.idempotency.putUnanswered(apiKeyId, key, fingerprint, jobId, status, now, now + windowMs)
    },
    /** Takes an unanswered job of this API key and fingerprint left for one of `statuses`; at most once. */
    takeUnanswered(apiKeyId: string, fingerprint: string, statuses: readonly number[]): Promise<string | undefined> {
      return store.idempotency.takeUnanswered(apiKeyId, UNANSWERED_PREFIX, fingerprint, statuses, clock.now())
    },
    /** Deletes expired keys; returns how many. */
    sweep(): Promise<number> {
      return store.idempotency.deleteExpired(clock.now())
    },
  }
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>
