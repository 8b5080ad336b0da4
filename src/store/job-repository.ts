import type { Kysely } from 'kysely'
import type { GenerationRequest, Job, JobError, JobResult, JobState } from '../domain/job.js'
import { compileOnce } from './compiled.js'
import { jobToRow, rowToJob } from './job-row.js'
import type { Database, JobsTable } from './schema.js'

const TEMPLATE_ROW: JobsTable = {
  id: '',
  api_key_id: '',
  model: '',
  dialect: '',
  state: 'queued',
  progress: 0,
  request: '',
  result: null,
  error_code: null,
  error_message: null,
  cost_micros: 0,
  engine: null,
  attempts: 0,
  priority: 0,
  run_after: 0,
  lease_owner: null,
  lease_expires_at: null,
  created_at: 0,
  started_at: null,
  finished_at: null,
  deleted_at: null,
}
const COLUMNS = Object.keys(TEMPLATE_ROW) as (keyof JobsTable)[]

/** The queries every create and every poll runs, compiled once per database. */
export function compileJobQueries(db: Kysely<Database>) {
  return {
    insert: compileOnce(db.insertInto('jobs').values(TEMPLATE_ROW), COLUMNS.length),
    get: compileOnce(db.selectFrom('jobs').selectAll().where('id', '=', ''), 1),
  }
}
export type JobQueries = ReturnType<typeof compileJobQueries>

/** A job's values in the column order the compiled insert expects. */
export function insertParameters(job: Job): unknown[] {
  const row = jobToRow(job)
  return COLUMNS.map((column) => row[column])
}

export interface ListJobsFilter {
  apiKeyId?: string
  state?: JobState
  /** Only jobs with an id below this one (ids are time-ordered UUIDv7: newer first). */
  before?: string
  limit: number
}

export type CancelOutcome =
  | { kind: 'canceled'; job: Job }
  | { kind: 'finished'; job: Job }
  | { kind: 'not_found' }

/**
 * The jobs table. Every state transition is one guarded statement: a worker's write only
 * lands while the job is still `running` under that worker's lease, so a canceled job or
 * one whose lease expired and went to another worker can never be overwritten.
 */
export function createJobRepository(db: Kysely<Database>, queries: JobQueries) {
  return {
    async insert(job: Job): Promise<void> {
      await db.executeQuery(queries.insert(insertParameters(job)))
    },

    async get(id: string): Promise<Job | undefined> {
      const { rows } = await db.executeQuery(queries.get([id]))
      return rows[0] ? rowToJob(rows[0]) : undefined
    },

    /**
     * Deletes a finished job for its owner: the row stays (its charge refers to it) but reads
     * no longer see it, and what the owner wrote or got is scrubbed from it: the prompt and
     * the result (image keys, the upsampled prompt). Model, size, cost and times stay, for
     * metering. The request cannot change once the job is finished, so read-then-update is safe.
     */
    async markDeleted(id: string, now: number): Promise<Job | undefined> {
      const finished = ['succeeded', 'failed', 'canceled'] as const
      const current = await db.selectFrom('jobs').select('request').where('id', '=', id).where('state', 'in', finished).where('deleted_at', 'is', null).executeTakeFirst()
      if (!current) return undefined
      const request = { ...(JSON.parse(current.request) as GenerationRequest), prompt: '' }
      const row = await db
        .updateTable('jobs')
        .set({ deleted_at: now, request: JSON.stringify(request), result: null })
        .where('id', '=', id)
        .where('state', 'in', finished)
        .where('deleted_at', 'is', null)
        .returningAll()
        .executeTakeFirst()
      return row ? rowToJob(row) : undefined
    },

    async list(filter: ListJobsFilter): Promise<Job[]> {
      let query = db.selectFrom('jobs').selectAll().where('deleted_at', 'is', null).orderBy('id', 'desc').limit(filter.limit)
      if (filter.apiKeyId !== undefined) query = query.where('api_key_id', '=', filter.apiKeyId)
      if (filter.state !== undefined) query = query.where('state', '=', filter.state)
      if (filter.before !== undefined) query = query.where('id', '<', filter.before)
      return (await query.execute()).map(rowToJob)
    },

    /** How long the newest succeeded jobs took on their engine (started → finished), newest first. */
    async recentDurations(limit: number): Promise<{ engine: string; ms: number; finishedAt: number }[]> {
      const rows = await db
        .selectFrom('jobs')
        .select(['engine', 'started_at', 'finished_at'])
        .where('state', '=', 'succeeded')
        .where('started_at', 'is not', null)
        .orderBy('id', 'desc')
        .limit(limit)
        .execute()
      return rows
        .filter((row) => row.engine !== null && row.finished_at !== null)
        .map((row) => ({ engine: row.engine!, ms: Number(row.finished_at) - Number(row.started_at), finishedAt: Number(row.finished_at) }))
    },

    async countByState(): Promise<Record<JobState, number>> {
      const rows = await db
        .selectFrom('jobs')
        .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('state')
        .execute()
      const counts: Record<JobState, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, canceled: 0 }
      for (const row of rows) counts[row.state] = Number(row.n)
      return counts
    },

    /** Cancels a queued or running job in one statement; says why when it cannot. */
    async cancel(id: string, now: number, message = 'The job was canceled.'): Promise<CancelOutcome> {
      const row = await db
        .updateTable('jobs')
        .set({
          state: 'canceled',
          finished_at: now,
          lease_owner: null,
          lease_expires_at: null,
          error_code: 'JOB_CANCELED',
          error_message: message,
        })
        .where('id', '=', id)
        .where('state', 'in', ['queued', 'running'])
        .returningAll()
        .executeTakeFirst()
      if (row) return { kind: 'canceled', job: rowToJob(row) }
      const current = await this.get(id)
      return current ? { kind: 'finished', job: current } : { kind: 'not_found' }
    },

    async complete(
      id: string,
      owner: string,
      done: { result: JobResult; engine: string; now: number; costMicros?: number },
    ): Promise<Job | undefined> {
      const row = await db
        .updateTable('jobs')
        .set({
          state: 'succeeded',
          progress: 1,
          ...(done.costMicros === undefined ? {} : { cost_micros: done.costMicros }),
          result: JSON.stringify(done.result),
          engine: done.engine,
          finished_at: done.now,
          lease_owner: null,
          lease_expires_at: null,
        })
        .where('id', '=', id)
        .where('state', '=', 'running')
        .where('lease_owner', '=', owner)
        .returningAll()
        .executeTakeFirst()
      return row ? rowToJob(row) : undefined
    },

    async fail(
      id: string,
      owner: string,
      failure: { error: JobError; engine: string | null; now: number },
    ): Promise<Job | undefined> {
      const row = await db
        .updateTable('jobs')
        .set({
          state: 'failed',
          error_code: failure.error.code,
          error_message: failure.error.message,
          engine: failure.engine,
          finished_at: failure.now,
          lease_owner: null,
          lease_expires_at: null,
        })
        .where('id', '=', id)
        .where('state', '=', 'running')
        .where('lease_owner', '=', owner)
        .returningAll()
        .executeTakeFirst()
      return row ? rowToJob(row) : undefined
    },
  }
}

export type JobRepository = ReturnType<typeof createJobRepository>
