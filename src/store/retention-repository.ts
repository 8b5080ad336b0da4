import { type Kysely, type RawBuilder, sql } from 'kysely'
import type { GenerationRequest, JobResult } from '../domain/job.js'
import { lit } from './compiled.js'
import type { Database } from './schema.js'

const FINISHED = ['succeeded', 'failed', 'canceled'] as const
const DELIVERED = ['delivered', 'failed', 'stopped'] as const

/** The first key of the sweep's advisory lock (`flux`); the second is the schema's hash. */
const LOCK_CLASS = 0x666c7578

/** A finished job the sweep has still to prune, and what pruning it removes. */
export interface DueJob {
  id: string
  finishedAt: number
  /** Output images in its result (thumbnails, made on demand, are not counted). */
  images: number
  bytes: number
  /** Whether it kept an image prompt under `inputs/<id>/`. */
  imagePrompt: boolean
}

/**
 * The statements of retention (FLUXHOST_RETENTION): old finished jobs, finished webhook
 * deliveries and their attempts, expired idempotency keys. Every step is small (one batch)
 * and can run again: a sweep cut off anywhere leaves nothing the next one would not finish.
 */
export function createRetentionRepository(db: Kysely<Database>, kind: 'sqlite' | 'postgres') {
  // The request keeps what usage and the renderers read (model, size, seed, count, format);
  // the prompt, the image prompt's key and BFL's webhook secret go. The result keeps its
  // seed and timings; its images and the prompt the engine used go.
  const scrubbedRequest: RawBuilder<string> =
    kind === 'postgres'
      ? sql`(((request::jsonb - 'imagePrompt') #- '{webhook,secret}') || '{"prompt": ""}'::jsonb)::text`
      : sql`json_set(json_remove(request, '$.imagePrompt', '$.webhook.secret'), '$.prompt', '')`
  const scrubbedResult: RawBuilder<string | null> =
    kind === 'postgres'
      ? sql`case when result is null then null else (result::jsonb || '{"images": [], "prompt": ""}'::jsonb)::text end`
      : sql`case when result is null then null else json_set(result, '$.images', json('[]'), '$.prompt', '') end`

  return {
    /**
     * Up to `limit` finished, unpruned jobs that ended before `cutoff`, oldest first (the
     * `jobs_unpruned` index, in order). `after`: the last one of the previous page, so that a
     * dry run pages through them, and a sweep passes over jobs it could not prune.
     */
    async dueJobs(cutoff: number, limit: number, after?: { finishedAt: number; id: string }): Promise<DueJob[]> {
      let query = db
        .selectFrom('jobs')
        .select(['id', 'finished_at', 'request', 'result'])
        .where('pruned_at', 'is', null)
        .where('finished_at', '<', cutoff)
        // SQLite, which keeps no statistics here, would take `jobs_by_state` for `state in` and
        // sort most of the table; `+state` leaves it the `jobs_unpruned` range, in order.
        .where(kind === 'sqlite' ? sql<string>`+${sql.ref('state')}` : sql.ref('state'), 'in', FINISHED)
        .orderBy('finished_at')
        .orderBy('id')
        .limit(limit)
      if (after)
        query = query.where((eb) =>
          eb.or([
            eb('finished_at', '>', after.finishedAt),
            eb.and([eb('finished_at', '=', after.finishedAt), eb('id', '>', after.id)]),
          ]),
        )
      return (await query.execute()).map((row) => {
        const images = row.result === null ? [] : ((JSON.parse(row.result) as JobResult).images ?? [])
        return {
          id: row.id,
          finishedAt: Number(row.finished_at),
          images: images.length,
          bytes: images.reduce((sum, image) => sum + (image.bytes ?? 0), 0),
          imagePrompt: (JSON.parse(row.request) as GenerationRequest).imagePrompt !== undefined,
        }
      })
    },

    /**
     * Marks these jobs pruned and scrubs them, in one statement; returns the ids it marked
     * (not those already pruned, or not finished). Call it once their files are gone.
     */
    async markPruned(ids: readonly string[], now: number): Promise<string[]> {
      if (ids.length === 0) return []
      const rows = await db
        .updateTable('jobs')
        .set({ pruned_at: now, request: scrubbedRequest, result: scrubbedResult })
        .where('id', 'in', ids)
        .where('pruned_at', 'is', null)
        .where(
          'state',
          'in',
          FINISHED.map((state) => lit(state)),
        )
        .returning('id')
        .execute()
      return rows.map((row) => row.id)
    },

    /** Up to `limit` webhook deliveries that finished before `cutoff`, oldest first. */
    async finishedDeliveries(cutoff: number, limit: number): Promise<string[]> {
      const rows = await db
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('finished_at', '<', cutoff)
        .where(
          'state',
          'in',
          DELIVERED.map((state) => lit(state)),
        )
        .orderBy('finished_at')
        .orderBy('id')
        .limit(limit)
        .execute()
      return rows.map((row) => row.id)
    },

    /**
     * Deletes these deliveries and their attempts (one transaction), unless one was sent
     * again since (a redelivery makes it pending).
     */
    async deleteDeliveries(ids: readonly string[], cutoff: number): Promise<{ deliveries: number; attempts: number }> {
      if (ids.length === 0) return { deliveries: 0, attempts: 0 }
      const run = async (tx: Kysely<Database>) => {
        const still = (
          await tx
            .selectFrom('webhook_deliveries')
            .select('id')
            .where('id', 'in', ids)
            .where('finished_at', '<', cutoff)
            .where(
              'state',
              'in',
              DELIVERED.map((state) => lit(state)),
            )
            .execute()
        ).map((row) => row.id)
        if (still.length === 0) return { deliveries: 0, attempts: 0 }
        const attempts = await tx.deleteFrom('webhook_attempts').where('delivery_id', 'in', still).executeTakeFirst()
        const deliveries = await tx.deleteFrom('webhook_deliveries').where('id', 'in', still).executeTakeFirst()
        return { deliveries: Number(deliveries.numDeletedRows), attempts: Number(attempts.numDeletedRows) }
      }
      return db.isTransaction ? run(db) : db.transaction().execute(run)
    },

    /** What a sweep at `cutoff` (and `now`, for idempotency keys) would remove besides jobs. */
    async countOthers(cutoff: number, now: number): Promise<{ deliveries: number; attempts: number; keys: number }> {
      const finished = db
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('finished_at', '<', cutoff)
        .where(
          'state',
          'in',
          DELIVERED.map((state) => lit(state)),
        )
      const [deliveries, attempts, keys] = await Promise.all([
        db
          .selectFrom('webhook_deliveries')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('id', 'in', finished)
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('webhook_attempts')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('delivery_id', 'in', finished)
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('idempotency_keys')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('expires_at', '<=', now)
          .executeTakeFirstOrThrow(),
      ])
      return { deliveries: Number(deliveries.n), attempts: Number(attempts.n), keys: Number(keys.n) }
    },

    /**
     * Runs `fn` as the only sweep of these records, or answers `{ ran: false }` when another
     * process is sweeping them. PostgreSQL: a transaction-level advisory lock keyed by the
     * schema, held by a transaction that does nothing else (no row locks; `fn` works on other
     * connections of the pool) and released by its end, or the connection's, should this
     * process die; `heartbeat` checks it is still held (it throws if the transaction was cut).
     * SQLite: one file, and every step is guarded and can run twice, so `fn` just runs.
     */
    async exclusive<T>(
      fn: (heartbeat: () => Promise<void>) => Promise<T>,
    ): Promise<{ ran: true; value: T } | { ran: false }> {
      if (kind !== 'postgres') return { ran: true, value: await fn(async () => undefined) }
      if (db.isTransaction) throw new Error('a sweep takes its own transaction: call exclusive outside one')
      return db.transaction().execute(async (tx) => {
        const { rows } = await sql<{ locked: boolean }>`
          select pg_try_advisory_xact_lock(${LOCK_CLASS}, hashtext(current_schema()::text)) as locked`.execute(tx)
        if (!rows[0]?.locked) return { ran: false as const }
        const heartbeat = async () => {
          await sql`select 1`.execute(tx)
        }
        return { ran: true as const, value: await fn(heartbeat) }
      })
    },
  }
}

export type RetentionRepository = ReturnType<typeof createRetentionRepository>
