import type { Kysely } from 'kysely'
import type { GenerationRequest, Job, JobState } from '../domain/job.js'
import type { ModelId } from '../domain/models.js'
import { compileOnce, lit } from './compiled.js'
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
  pruned_at: null,
  favourite_at: null,
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
  /** Only jobs of this model (canonical id). */
  model?: ModelId
  /** Only the jobs marked as favourites (true), or only the others (false). */
  favourite?: boolean
  /** Only jobs with an id below this one (ids are time-ordered UUIDv7: newer first). */
  before?: string
  limit: number
}

/** How many jobs a search reads at a time. */
const SEARCH_BATCH = 200

/** The jobs table as clients and operators read it; state changes are in job-transitions.ts. */
export function createJobReads(db: Kysely<Database>, queries: JobQueries) {
  const reads = {
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
      const current = await db
        .selectFrom('jobs')
        .select('request')
        .where('id', '=', id)
        .where(
          'state',
          'in',
          finished.map((state) => lit(state)),
        )
        .where('deleted_at', 'is', null)
        .executeTakeFirst()
      if (!current) return undefined
      const request = { ...(JSON.parse(current.request) as GenerationRequest), prompt: '' }
      const row = await db
        .updateTable('jobs')
        .set({ deleted_at: now, request: JSON.stringify(request), result: null })
        .where('id', '=', id)
        .where(
          'state',
          'in',
          finished.map((state) => lit(state)),
        )
        .where('deleted_at', 'is', null)
        .returningAll()
        .executeTakeFirst()
      return row ? rowToJob(row) : undefined
    },

    /**
     * Marks a job a favourite (`at`: when) or not (null), if it is not so already (judged by the
     * row, not by a copy read before: two marks at once leave the last one). Returns the job as
     * it is now and whether this changed it; undefined when there is no such (undeleted) job.
     */
    async setFavourite(id: string, at: number | null): Promise<{ job: Job; changed: boolean } | undefined> {
      const row = await db
        .updateTable('jobs')
        .set({ favourite_at: at })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .where('favourite_at', at === null ? 'is not' : 'is', null)
        .returningAll()
        .executeTakeFirst()
      if (row) return { job: rowToJob(row), changed: true }
      const now = await reads.get(id)
      return now && !now.deletedAt ? { job: now, changed: false } : undefined
    },

    async list(filter: ListJobsFilter): Promise<Job[]> {
      let query = db
        .selectFrom('jobs')
        .selectAll()
        .where('deleted_at', 'is', null)
        .orderBy('id', 'desc')
        .limit(filter.limit)
      if (filter.apiKeyId !== undefined) query = query.where('api_key_id', '=', filter.apiKeyId)
      if (filter.state !== undefined) query = query.where('state', '=', filter.state)
      if (filter.model !== undefined) query = query.where('model', '=', filter.model)
      if (filter.before !== undefined) query = query.where('id', '<', filter.before)
      if (filter.favourite !== undefined) query = query.where('favourite_at', filter.favourite ? 'is not' : 'is', null)
      return (await query.execute()).map(rowToJob)
    },

    /**
     * The newest jobs of `filter` whose prompt contains `text` (any case), at most `limit`,
     * looking at no more than `scanLimit` jobs: a search costs the same whatever the prompts
     * and the text hold (matched in JavaScript, linear, not by LIKE, whose cost grows with the
     * prompt's length times the text's). `scannedTo`: where a next search may go on (the last
     * job looked at) when it stopped at `scanLimit`; null when every job was looked at.
     */
    async search(
      filter: ListJobsFilter,
      text: string,
      scanLimit: number,
    ): Promise<{ jobs: Job[]; scannedTo: string | null }> {
      const needle = text.toLowerCase()
      const jobs: Job[] = []
      let before = filter.before
      for (let scanned = 0; scanned < scanLimit; ) {
        const size = Math.min(SEARCH_BATCH, scanLimit - scanned)
        const batch = await reads.list({ ...filter, before, limit: size })
        for (const job of batch) {
          scanned++
          before = job.id
          if (job.request.prompt.toLowerCase().includes(needle)) jobs.push(job)
          if (jobs.length === filter.limit) return { jobs, scannedTo: null }
        }
        // A short batch: the key has no more jobs (a full one may be cut by the scan limit only).
        if (batch.length < size) return { jobs, scannedTo: null }
      }
      return { jobs, scannedTo: before ?? null }
    },

    /** How long the newest succeeded jobs took on their engine (started → finished), newest first. */
    async recentDurations(limit: number): Promise<{ engine: string; ms: number; finishedAt: number }[]> {
      const rows = await db
        .selectFrom('jobs')
        .select(['engine', 'started_at', 'finished_at'])
        .where('state', '=', lit('succeeded'))
        .where('started_at', 'is not', null)
        .orderBy('id', 'desc')
        .limit(limit)
        .execute()
      return rows
        .filter((row) => row.engine !== null && row.finished_at !== null)
        .map((row) => ({
          engine: row.engine!,
          ms: Number(row.finished_at) - Number(row.started_at),
          finishedAt: Number(row.finished_at),
        }))
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
  }
  return reads
}

export type JobReads = ReturnType<typeof createJobReads>
