import { type Kysely, type Selectable, sql } from 'kysely'
import { compileByShape, lit } from './compiled.js'
import type { Database, IdempotencyKeysTable } from './schema.js'

export type IdempotencyRow = Selectable<IdempotencyKeysTable>

export type Claim =
  /** The key is new (or expired, or its holder died): this request now holds it as `holder`. */
  | { kind: 'acquired' }
  /** The key was used with a different request. */
  | { kind: 'mismatch' }
  /** The first request with this key is still being answered (`row.job_id`: its job is made). */
  | { kind: 'in_flight'; row?: IdempotencyRow }
  /** The first request was answered (or made its job and died): replay it. */
  | { kind: 'done'; row: IdempotencyRow }

/** takeUnanswered's look-up, compiled once per store, prefix and number of statuses (compiled.ts). */
export function compileUnansweredQuery(db: Kysely<Database>) {
  return compileByShape<
    { key: string; job_id: string | null },
    { apiKeyId: string; fingerprint: string; statuses: readonly number[]; now: number },
    [keyPrefix: string, statusCount: number]
  >((slot, keyPrefix, statusCount) => {
    // Written into the SQL (below): only a prefix of the service's own kind, never input.
    if (!/^[\w\u00b7]+$/.test(keyPrefix)) throw new Error(`unanswered key prefix '${keyPrefix}' is not a plain word`)
    return (
      db
        .selectFrom('idempotency_keys')
        .select(['key', 'job_id'])
        .where('api_key_id', '=', slot('apiKeyId'))
        .where('fingerprint', '=', slot('fingerprint'))
        // In the SQL text (the prefix is the service's constant): a bound LIKE pattern makes
        // SQLite prepare the statement again at every run (compiled.ts: lit).
        .where('key', 'like', lit(`${keyPrefix}%`))
        .where(
          'status',
          'in',
          Array.from({ length: statusCount }, (_, i) => slot(`statuses#${i}`) as unknown as number),
        )
        .where('expires_at', '>', slot('now'))
        .orderBy('created_at')
        .limit(4)
    )
  })
}

export function createIdempotencyRepository(db: Kysely<Database>, unansweredQuery = compileUnansweredQuery(db)) {
  return {
    /**
     * Takes the key for one request, or says why not. One conditional upsert, so two
     * requests (in one process or two sharing the file) can never both take a key: the
     * row is (re)written only when it is absent, expired, or held by a request presumed
     * dead (lock expired) that made no job. Otherwise the row is read and judged.
     */
    async claim(
      apiKeyId: string,
      key: string,
      fingerprint: string,
      holder: string,
      now: number,
      lockedUntil: number,
      expiresAt: number,
    ): Promise<Claim> {
      const taken = await db
        .insertInto('idempotency_keys')
        .values({
          api_key_id: apiKeyId,
          key,
          fingerprint,
          holder,
          state: 'in_flight',
          locked_until: lockedUntil,
          created_at: now,
          expires_at: expiresAt,
        })
        .onConflict((oc) =>
          oc
            .columns(['api_key_id', 'key'])
            .doUpdateSet({
              fingerprint,
              holder,
              state: 'in_flight',
              locked_until: lockedUntil,
              status: null,
              body: null,
              content_type: null,
              job_id: null,
              created_at: now,
              expires_at: expiresAt,
            })
            .where((eb) =>
              eb.or([
                eb('idempotency_keys.expires_at', '<=', now),
                eb.and([
                  eb('idempotency_keys.state', '=', lit('in_flight')),
                  eb('idempotency_keys.locked_until', '<=', now),
                  eb('idempotency_keys.job_id', 'is', null),
                  eb('idempotency_keys.fingerprint', '=', sql<string>`excluded.fingerprint`),
                ]),
              ]),
            ),
        )
        .returning('holder')
        .executeTakeFirst()
      if (taken?.holder === holder) return { kind: 'acquired' }
      const row = await db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('api_key_id', '=', apiKeyId)
        .where('key', '=', key)
        .executeTakeFirst()
      if (!row) return { kind: 'in_flight' } // deleted between the two statements: let the client retry
      if (row.fingerprint !== fingerprint) return { kind: 'mismatch' }
      if (row.state === 'done') return { kind: 'done', row }
      // Held by a request presumed dead that had made its job: answer from that job.
      if (row.job_id !== null && row.locked_until !== null && Number(row.locked_until) <= now)
        return { kind: 'done', row }
      return { kind: 'in_flight', row }
    },

    /**
     * Records the job the holder made, so the key points at it even if the holder dies; in
     * the transaction that inserts the job. False: the holder no longer holds the key.
     */
    async attachJob(apiKeyId: string, key: string, holder: string, jobId: string): Promise<boolean> {
      const result = await db
        .updateTable('idempotency_keys')
        .set({ job_id: jobId })
        .where('api_key_id', '=', apiKeyId)
        .where('key', '=', key)
        .where('holder', '=', holder)
        .executeTakeFirst()
      return Number(result.numUpdatedRows) === 1
    },

    /** Stores the answer (or the job to re-render it from) for replays, if `holder` still holds the key. */
    async complete(
      apiKeyId: string,
      key: string,
      holder: string,
      answer: { status: number; body: string | null; contentType: string | null; jobId: string | null },
    ): Promise<void> {
      await db
        .updateTable('idempotency_keys')
        .set({
          state: 'done',
          locked_until: null,
          status: answer.status,
          body: answer.body,
          content_type: answer.contentType,
          job_id: answer.jobId,
        })
        .where('api_key_id', '=', apiKeyId)
        .where('key', '=', key)
        .where('holder', '=', holder)
        .where('state', '=', lit('in_flight'))
        .execute()
    },

    /** Forgets a key whose request failed in a way worth retrying (5xx, 429), if `holder` holds it. */
    async release(apiKeyId: string, key: string, holder: string): Promise<void> {
      await db
        .deleteFrom('idempotency_keys')
        .where('api_key_id', '=', apiKeyId)
        .where('key', '=', key)
        .where('holder', '=', holder)
        .where('state', '=', lit('in_flight'))
        .execute()
    },

    /**
     * Leaves a job whose answer never reached its client (it left, or the wait timed out) for
     * a retry of the same call to take: one row per job, under `key` (which no client key can
     * spell), `status` saying why. Written again (same job) it is renewed.
     */
    async putUnanswered(
      apiKeyId: string,
      key: string,
      fingerprint: string,
      jobId: string,
      status: number,
      now: number,
      expiresAt: number,
    ): Promise<void> {
      await db
        .insertInto('idempotency_keys')
        .values({
          api_key_id: apiKeyId,
          key,
          fingerprint,
          holder: '',
          state: 'done',
          locked_until: null,
          status,
          job_id: jobId,
          created_at: now,
          expires_at: expiresAt,
        })
        .onConflict((oc) =>
          oc
            .columns(['api_key_id', 'key'])
            .doUpdateSet({ status, fingerprint, created_at: now, expires_at: expiresAt }),
        )
        .execute()
    },

    /**
     * Takes (deletes) the oldest live unanswered job of this API key and fingerprint whose
     * status is one of `statuses`, and returns its id: a guarded delete, so two retries
     * never take the same job. Undefined when there is none.
     */
    async takeUnanswered(
      apiKeyId: string,
      keyPrefix: string,
      fingerprint: string,
      statuses: readonly number[],
      now: number,
    ): Promise<string | undefined> {
      const query = unansweredQuery({ apiKeyId, fingerprint, statuses, now }, keyPrefix, statuses.length)
      const candidates = (await db.executeQuery(query)).rows
      for (const candidate of candidates) {
        const taken = await db
          .deleteFrom('idempotency_keys')
          .where('api_key_id', '=', apiKeyId)
          .where('key', '=', candidate.key)
          .where('expires_at', '>', now)
          .executeTakeFirst()
        if (Number(taken.numDeletedRows) === 1 && candidate.job_id !== null) return candidate.job_id
      }
      return undefined
    },

    async deleteExpired(now: number): Promise<number> {
      const result = await db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}

export type IdempotencyRepository = ReturnType<typeof createIdempotencyRepository>
