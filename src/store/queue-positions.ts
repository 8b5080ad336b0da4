import { type Kysely, sql } from 'kysely'
import type { Job } from '../domain/job.js'
import { compileOnce, lit } from './compiled.js'
import { rowToJob } from './job-row.js'
import type { Database } from './schema.js'

/** Past this many jobs behind a job, its position is counted from the front instead. */
const CAP = 256

/**
 * Where queued jobs stand. Queue order is (priority desc, run_after, id). Counting the jobs
 * ahead of a job costs a step per job, so count the side that is short: its position is the
 * depth (kept by triggers, migration 0002) less the jobs behind it, and a new job has next
 * to nothing behind it. Depth and count come from one statement, so from one snapshot.
 */
export function compilePositionQueries(db: Kysely<Database>, kind: 'sqlite' | 'postgres') {
  // `indexed by` keeps SQLite on the queue's partial index; PostgreSQL's planner finds it.
  const queueIndex = kind === 'sqlite' ? sql` indexed by jobs_queue` : sql``
  // Compiled once: SeaArt's create answers with a position, so this is on a hot path.
  const fromBack = compileOnce<{ depth: number; behind: number }>(
    {
      compile: () =>
        sql<{ depth: number; behind: number }>`
      select
        (select depth from queue_stats where id = 1) as depth,
        (select count(*) from (select 1 from jobs j${queueIndex}
            where j.state = 'queued' and j.priority < me.priority limit ${CAP}) lower_priority)
        + (select count(*) from (select 1 from jobs j${queueIndex}
            where j.state = 'queued' and j.priority = me.priority
              and (j.run_after, j.id) > (me.run_after, me.id) limit ${CAP}) later_in_line) as behind
      from jobs me
      where me.id = ${''} and me.state = 'queued'
    `.compile(db),
    },
    3,
  )
  const fromFront = compileOnce<{ ahead: number }>(
    {
      compile: () =>
        sql<{ ahead: number }>`
      select
        (select count(*) from jobs j${queueIndex} where j.state = 'queued' and j.priority > me.priority)
        + (select count(*) from jobs j${queueIndex}
            where j.state = 'queued' and j.priority = me.priority
              and (j.run_after, j.id) < (me.run_after, me.id)) as ahead
      from jobs me
      where me.id = ${''} and me.state = 'queued'
    `.compile(db),
    },
    1,
  )
  return { fromBack, fromFront }
}
export type PositionQueries = ReturnType<typeof compilePositionQueries>

export function createQueuePositions(db: Kysely<Database>, { fromBack, fromFront }: PositionQueries) {
  return {
    /** How many queued jobs will be claimed before this one; undefined unless it is queued. */
    async positionOf(id: string): Promise<number | undefined> {
      const { rows } = await db.executeQuery(fromBack([CAP, CAP, id]))
      const row = rows[0]
      if (!row) return undefined
      if (Number(row.behind) < CAP) return Number(row.depth) - 1 - Number(row.behind)
      // Deep in a long queue: count the jobs ahead (it costs as much as the position).
      const ahead = await db.executeQuery(fromFront([id]))
      return ahead.rows[0] ? Number(ahead.rows[0].ahead) : undefined
    },

    /**
     * The first `limit` queued jobs in queue order (priority, then when due, then age): what
     * runs next, as far as the order goes (fair turns between keys may take another key's first).
     */
    async nextQueued(limit: number): Promise<Job[]> {
      const rows = await db
        .selectFrom('jobs')
        .selectAll()
        .where('state', '=', lit('queued'))
        .orderBy('priority', 'desc')
        .orderBy('run_after')
        .orderBy('id')
        .limit(limit)
        .execute()
      return rows.map(rowToJob)
    },

    /** Number of queued jobs. */
    async depth(): Promise<number> {
      const row = await db.selectFrom('queue_stats').select('depth').where('id', '=', 1).executeTakeFirst()
      return Number(row?.depth ?? 0)
    },

    /**
     * When the next queued job is due (a retried job may be due later than now), if any is
     * queued: of one key's with `apiKeyId`, and never one of `exclude` (jobs the asker runs).
     */
    async nextDueAt(filter: { apiKeyId?: string; exclude?: readonly string[] } = {}): Promise<number | undefined> {
      let query = db
        .selectFrom('jobs')
        .select((eb) => eb.fn.min('run_after').as('next'))
        .where('state', '=', lit('queued'))
      if (filter.apiKeyId !== undefined) query = query.where('api_key_id', '=', filter.apiKeyId)
      if (filter.exclude?.length) query = query.where('id', 'not in', filter.exclude)
      const next = await query.executeTakeFirst()
      return next?.next == null ? undefined : Number(next.next)
    },
  }
}

export type QueuePositions = ReturnType<typeof createQueuePositions>
