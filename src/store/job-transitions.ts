import type { ExpressionBuilder, Kysely, Updateable } from 'kysely'
import { ERRORS } from '../domain/errors.js'
import type { Job, JobError, JobResult } from '../domain/job.js'
import { lit } from './compiled.js'
import { rowToJob } from './job-row.js'
import type { Database, JobsTable } from './schema.js'
import { compileTransitionQueries, type FinishValues } from './transition-queries.js'

export type CancelOutcome = { kind: 'canceled'; job: Job } | { kind: 'finished'; job: Job } | { kind: 'not_found' }

/** A running job's lease, as recovery looks at it. */
export interface Lease {
  id: string
  /** The lease token of the claim that holds the job (`<owner id>/<claim token>`). */
  owner: string | null
  expiresAt: number | null
  attempts: number
}

export interface ClaimOptions {
  /** The claim's lease token (`<owner id>/<claim token>`): every later write of this attempt names it. */
  owner: string
  now: number
  leaseMs: number
  /** Claim only this key's jobs (the CLI's in-process worker runs only its own). */
  apiKeyId?: string
  /** Never these jobs: the claimer runs them already (another process may have re-queued one). */
  exclude?: readonly string[]
}

/**
 * Every change of a job's state, each one guarded statement: a worker's write lands only
 * while the job is still `running` under that worker's lease, so a job canceled, or taken
 * over after its lease ran out, is never overwritten by a late worker.
 */
export function createJobTransitions(
  db: Kysely<Database>,
  kind: 'sqlite' | 'postgres',
  { finishQuery, extendQuery, claimQuery } = compileTransitionQueries(db, kind),
) {
  // (`is $1` is SQLite-only; PostgreSQL compares a parameter with `=` or `is null`.) With
  // `expiredBefore`, also that the lease ran out by then: a heartbeat that came since saves it.
  const heldBy = (owner: string | null, expiredBefore?: number) => (eb: ExpressionBuilder<Database, 'jobs'>) => {
    const held = owner === null ? eb('lease_owner', 'is', null) : eb('lease_owner', '=', owner)
    if (expiredBefore === undefined) return held
    return eb.and([held, eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', expiredBefore)])])
  }
  const changed = (result: { numUpdatedRows: bigint }) => Number(result.numUpdatedRows) === 1
  /** What a cancel writes: the end, the error, and no lease (a worker's later writes land nowhere). */
  const canceled = (now: number, message: string) => ({
    state: 'canceled' as const,
    finished_at: now,
    lease_owner: null,
    lease_expires_at: null,
    error_code: 'JOB_CANCELED',
    error_message: message,
  })
  /** Ends a running job, if `owner` still holds its lease: the worker's last write. */
  /** A worker's end of its job (succeeded or failed), compiled once per set of columns written. */
  const finish = async (id: string, owner: string, now: number, end: Updateable<JobsTable>) => {
    const columns = (Object.keys(end) as (keyof JobsTable)[]).filter((column) => end[column] !== undefined)
    const values: FinishValues = { id, owner, now }
    for (const column of columns) values[`set:${column}`] = end[column]
    const [row] = (await db.executeQuery(finishQuery(values, ...columns))).rows
    return row ? rowToJob(row) : undefined
  }
  return {
    /**
     * Leases the next job in one statement, taking turns across keys: the key with ready work
     * that was served longest ago (by `served_seq`, which the claim's trigger advances), then
     * that key's head (priority, then due time, then id). So a key with 500 queued jobs holds
     * no worker from another key's one: that one runs as soon as a worker frees. With
     * `apiKeyId`, that key's head only. Two claimers cannot both win: the UPDATE re-checks
     * `state = 'queued'` under the row's lock. On PostgreSQL the head is picked `for update
     * skip locked`, so concurrent claimers take different heads instead of queueing on one.
     * When the turn finds nothing (the key's ready jobs are all locked by other claimers), the
     * global head is taken instead: one more statement, only then (and when the queue is
     * empty). SQLite's write lock makes it exclusive.
     */
    async claim(options: ClaimOptions): Promise<Job | undefined> {
      const { owner, now, leaseMs, apiKeyId } = options
      const exclude = options.exclude ?? []
      const values = { owner, now, expiresAt: now + leaseMs, apiKeyId: apiKeyId ?? '', exclude }
      const take = async (fair: boolean) => {
        const query = claimQuery(values, apiKeyId !== undefined, fair, exclude.length)
        const [row] = (await db.executeQuery(query)).rows
        return row ? rowToJob(row) : undefined
      }
      if (apiKeyId !== undefined) return take(false)
      return (await take(true)) ?? take(false)
    },

    /** The heartbeat: extends the lease and saves progress. False: the lease is gone. */
    async extend(id: string, owner: string, expiresAt: number, progress: number): Promise<boolean> {
      const result = await db.executeQuery(extendQuery({ id, owner, expiresAt, progress }))
      return result.numAffectedRows === 1n
    },

    /**
     * Back to the queue, due at `runAfter`, or with `null` in the place it had (its due time
     * is unchanged while it runs); `attemptDelta` -1 does not count the attempt. With
     * `expiredBefore` (recovery), only a lease that has run out by then.
     */
    async requeue(
      id: string,
      owner: string | null,
      runAfter: number | null,
      attemptDelta: 0 | -1,
      expiredBefore?: number,
    ): Promise<boolean> {
      const result = await db
        .updateTable('jobs')
        .set((eb) => ({
          state: 'queued',
          ...(runAfter === null ? {} : { run_after: runAfter }),
          lease_owner: null,
          lease_expires_at: null,
          attempts: eb('attempts', '+', attemptDelta),
        }))
        .where('id', '=', id)
        .where('state', '=', lit('running'))
        .where(heldBy(owner, expiredBefore))
        .executeTakeFirst()
      return changed(result)
    },

    /** Every running job's lease, for recovery to judge. */
    async leases(): Promise<Lease[]> {
      const rows = await db
        .selectFrom('jobs')
        .select(['id', 'lease_owner', 'lease_expires_at', 'attempts'])
        .where('state', '=', lit('running'))
        .execute()
      return rows.map((row) => ({
        id: row.id,
        owner: row.lease_owner,
        expiresAt: row.lease_expires_at === null ? null : Number(row.lease_expires_at),
        attempts: row.attempts,
      }))
    },

    /**
     * Fails a job whose worker died during every attempt (JOB_ABANDONED), if `owner` still holds
     * it (and, with `expiredBefore`, its lease has run out by then).
     */
    async abandon(id: string, owner: string | null, now: number, expiredBefore?: number): Promise<boolean> {
      const result = await db
        .updateTable('jobs')
        .set({
          state: 'failed',
          error_code: 'JOB_ABANDONED',
          error_message: ERRORS.JOB_ABANDONED.message,
          finished_at: now,
          lease_owner: null,
          lease_expires_at: null,
        })
        .where('id', '=', id)
        .where('state', '=', lit('running'))
        .where(heldBy(owner, expiredBefore))
        .executeTakeFirst()
      return changed(result)
    },

    /** Cancels a queued or running job in one statement; says why when it cannot. */
    async cancel(id: string, now: number, message = 'The job was canceled.'): Promise<CancelOutcome> {
      const row = await db
        .updateTable('jobs')
        .set(canceled(now, message))
        .where('id', '=', id)
        .where('state', 'in', [lit('queued'), lit('running')])
        .returningAll()
        .executeTakeFirst()
      if (row) return { kind: 'canceled', job: rowToJob(row) }
      const current = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst()
      return current ? { kind: 'finished', job: rowToJob(current) } : { kind: 'not_found' }
    },

    /**
     * Cancels every unfinished (queued or running) job of one key in one statement, as `cancel`
     * does one job: a key's revocation, in its transaction. A worker running one of them loses
     * its lease with it, so its later writes (and the charge with them) land nowhere.
     */
    async cancelAllOfKey(apiKeyId: string, now: number, message: string): Promise<Job[]> {
      const rows = await db
        .updateTable('jobs')
        .set(canceled(now, message))
        .where('api_key_id', '=', apiKeyId)
        .where('state', 'in', [lit('queued'), lit('running')])
        .returningAll()
        .execute()
      return rows.map(rowToJob)
    },

    async complete(
      id: string,
      owner: string,
      done: { result: JobResult; engine: string; now: number; costMicros?: number },
    ): Promise<Job | undefined> {
      return finish(id, owner, done.now, {
        state: 'succeeded',
        progress: 1,
        ...(done.costMicros === undefined ? {} : { cost_micros: done.costMicros }),
        result: JSON.stringify(done.result),
        engine: done.engine,
      })
    },

    async fail(
      id: string,
      owner: string,
      failure: { error: JobError; engine: string | null; now: number },
    ): Promise<Job | undefined> {
      return finish(id, owner, failure.now, {
        state: 'failed',
        error_code: failure.error.code,
        error_message: failure.error.message,
        engine: failure.engine,
      })
    },
  }
}

export type JobTransitions = ReturnType<typeof createJobTransitions>
