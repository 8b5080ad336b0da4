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

/** How a key is claimed, when not as a client's Idempotency-Key. */
export interface ClaimOptions {
  /** Kept this long instead of `FLUXHOST_IDEMPOTENCY_TTL`. */
  ttlMs?: number
  /**
   * Every request claiming the key holds it under this name (none is told it lost it to
   * another): for a key the server derives, which several requests may hold at once.
   */
  holder?: string
  /** Takes the key whatever it holds: the key names the newest request with it. */
  force?: boolean
}

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
      options: ClaimOptions = {},
    ): Promise<{ claim: Claim; hold: Hold }> {
      const now = clock.now()
      const hold = { apiKeyId, key, holder: options.holder ?? randomUUID() }
      const claim = await store.idempotency.claim(
        apiKeyId,
        key,
        fingerprint,
        hold.holder,
        now,
        now + lockMs,
        now + (options.ttlMs ?? ttlMs),
        options.force === true,
      )
      return { claim, hold }
    },
    /** Keeps a live key at least `ttlMs` from now. */
    extend(apiKeyId: string, key: string, ttlMs: number): Promise<void> {
      const now = clock.now()
      return store.idempotency.extend(apiKeyId, key, now, now + ttlMs)
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
    /** Deletes expired keys; returns how many. */
    sweep(): Promise<number> {
      return store.idempotency.deleteExpired(clock.now())
    },
  }
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>
