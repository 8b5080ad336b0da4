import { type Kysely, sql } from 'kysely'
import type { Job } from '../domain/job.js'
import { type LimitDefaults, RPM_WINDOW_MS } from '../domain/limits.js'
import { failpoint } from '../observability/failpoint.js'
import { insertParameters, type JobQueries } from './job-repository.js'
import { jobToRow } from './job-row.js'
import { createLimitRepository, type LimitRow, toLimitRow } from './limit-repository.js'
import { limitValues, reserveStatement } from './limit-sql.js'
import type { Database } from './schema.js'

const MAX_BATCH = 500

/** A limited key's job: its price is reserved (the guarded statement) before its insert. */
export interface Reservation {
  now: number
  defaults: LimitDefaults
}

/** The guarded reservation found no room: the key's row as it stood, to say which limit. */
export class ReservationRefused extends Error {
  constructor(readonly standing: LimitRow | undefined) {
    super('a limit of the key leaves no room for the job')
    this.name = 'ReservationRefused'
  }
}

interface Pending {
  job: Job
  reservation: Reservation | undefined
  resolve(row: LimitRow | undefined): void
  reject(error: unknown): void
}

/** Jobs sorted by their key (stable within a key). */
const byKeyOrder = (jobs: Job[]) =>
  [...jobs].sort((a, b) => (a.apiKeyId < b.apiKeyId ? -1 : a.apiKeyId > b.apiKeyId ? 1 : 0))

/**
 * Reserves (for a limited key) and inserts one job: the reservation's guarded statement, then
 * the insert, whose trigger counts the job against the key. Call it inside a transaction.
 */
export async function reserveAndInsert(
  tx: Kysely<Database>,
  queries: JobQueries,
  job: Job,
  reservation: Reservation | undefined,
): Promise<LimitRow | undefined> {
  let row: LimitRow | undefined
  if (reservation) {
    const limits = createLimitRepository(tx)
    row = await limits.reserve(job.apiKeyId, job.costMicros, reservation.now, reservation.defaults)
    if (!row) throw new ReservationRefused(await limits.get(job.apiKeyId))
    failpoint('limits-reserved')
  }
  await tx.executeQuery(queries.insert(insertParameters(job)))
  return row
}

/**
 * Group commit for job inserts: every insert requested during one turn of the event loop
 * is written in one transaction. Each caller still resolves only after its row is committed,
 * so durability is unchanged; what is shared is the commit (SQLite appends the touched B-tree
 * pages to the WAL once per transaction, not once per row). Jobs go in one multi-row statement;
 * when the turn has limited keys' jobs, their reservations come first, in the same transaction
 * (see `reserveBatch`), and a refused reservation fails its own create only.
 */
export function createInsertBatcher(db: Kysely<Database>, queries: JobQueries, kind: 'sqlite' | 'postgres') {
  const pending: Pending[] = []

  const insertOne = (item: Pending) =>
    db
      .transaction()
      .execute((tx) => reserveAndInsert(tx, queries, item.job, item.reservation))
      .then(item.resolve, item.reject)

  /**
   * A group commit with limited keys' jobs, in its transaction: each key's jobs are reserved
   * together by one guarded statement (room for all of them, or none is reserved); a key without
   * room for all has them reserved and inserted one at a time, so each reservation sees the jobs
   * before it. Every job whose reservation held goes in at the end, in one statement.
   */
  const reserveBatch = async (tx: Kysely<Database>, batch: Pending[]) => {
    const limits = createLimitRepository(tx)
    const outcomes = new Map<Pending, { row: LimitRow | undefined } | { refused: ReservationRefused }>()
    const accepted: Job[] = []
    const byKey = new Map<string, Pending[]>()
    for (const item of batch) {
      if (!item.reservation) {
        accepted.push(item.job)
        outcomes.set(item, { row: undefined })
      } else byKey.set(item.job.apiKeyId, [...(byKey.get(item.job.apiKeyId) ?? []), item])
    }
    // Keys in one order, and rows by key (their trigger locks the key's row on PostgreSQL): two
    // processes' commits take the key rows in the same order, and never deadlock on them.
    for (const [apiKeyId, items] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const { now, defaults } = items[0]!.reservation!
      const cost = items.reduce((sum, item) => sum + item.job.costMicros, 0)
      const row = await limits.reserve(apiKeyId, cost, now, defaults, items.length)
      if (row) failpoint('limits-reserved')
      if (row) {
        // Each create's window as if they came one by one.
        for (const [i, item] of items.entries()) {
          accepted.push(item.job)
          outcomes.set(item, { row: { ...row, rpmCount: row.rpmCount - (items.length - 1 - i) } })
        }
        continue
      }
      for (const item of items) {
        try {
          outcomes.set(item, { row: await reserveAndInsert(tx, queries, item.job, item.reservation) })
        } catch (error) {
          // A refusal changes nothing (its guarded statement matched no row): the others go on.
          if (!(error instanceof ReservationRefused)) throw error
          outcomes.set(item, { refused: error })
        }
      }
    }
    if (accepted.length > 0) await tx.insertInto('jobs').values(byKeyOrder(accepted).map(jobToRow)).execute()
    return outcomes
  }

  /**
   * PostgreSQL: a transaction costs a round trip per statement while the key's row is held, so
   * each key's jobs are reserved and inserted by one statement (the reservation's UPDATE in a
   * WITH, the insert only if it matched), committed on its own; jobs of unlimited keys go in one
   * multi-row insert. A key without room for all of its jobs has them tried one at a time.
   */
  const flushPostgres = async (batch: Pending[]) => {
    const plain = batch.filter((item) => !item.reservation)
    const byKey = new Map<string, Pending[]>()
    for (const item of batch)
      if (item.reservation) byKey.set(item.job.apiKeyId, [...(byKey.get(item.job.apiKeyId) ?? []), item])
    if (plain.length > 0) {
      try {
        await db
          .insertInto('jobs')
          .values(byKeyOrder(plain.map((item) => item.job)).map(jobToRow))
          .execute()
        for (const item of plain) item.resolve(undefined)
      } catch {
        for (const item of plain) await insertOne(item)
      }
    }
    for (const [apiKeyId, items] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const { now, defaults } = items[0]!.reservation!
      const values = {
        ...limitValues(defaults, now),
        apiKeyId,
        count: items.length,
        costMicros: items.reduce((sum, item) => sum + item.job.costMicros, 0),
        window: Math.floor(now / RPM_WINDOW_MS) * RPM_WINDOW_MS,
      }
      const rows = JSON.stringify(items.map((item) => jobToRow(item.job)))
      let reserved: LimitRow | undefined
      try {
        const [row] = await db
          .with('r', () => reserveStatement(db, values))
          .with('i', (qb) =>
            qb.insertInto('jobs').expression(
              sql`select * from json_populate_recordset(null::jobs, cast(${rows} as json))
                  where exists (select 1 from r)`,
            ),
          )
          .selectFrom('r')
          .selectAll()
          .execute()
        reserved = row && toLimitRow(row)
      } catch {
        reserved = undefined
      }
      if (reserved) {
        for (const [i, item] of items.entries())
          item.resolve({ ...reserved, rpmCount: reserved.rpmCount - (items.length - 1 - i) })
        continue
      }
      // No room for all of them (or a bad row): one at a time, each in its own transaction.
      for (const item of items) await insertOne(item)
    }
  }

  // One group commit at a time: creates that arrive while one commits wait for the next, which
  // takes them all. (Concurrent commits would only queue on the same rows: a limited key's row,
  // which its reservation holds until commit, and the row every insert's trigger updates.)
  let flushing = false
  const schedule = () => {
    if (flushing || pending.length === 0) return
    flushing = true
    setImmediate(() => {
      void flush().finally(() => {
        flushing = false
        schedule()
      })
    })
  }

  const flush = async () => {
    const batch = pending.splice(0, MAX_BATCH)
    if (kind === 'postgres' && batch.some((item) => item.reservation)) return flushPostgres(batch)
    if (batch.length === 1) {
      const [only] = batch
      if (!only!.reservation) {
        await db
          .executeQuery(queries.insert(insertParameters(only!.job)))
          .then(() => only!.resolve(undefined), only!.reject)
        return
      }
      await insertOne(only!)
      return
    }
    try {
      if (batch.every((item) => !item.reservation)) {
        // One multi-row statement: one round trip to PostgreSQL, one commit on either.
        await db
          .insertInto('jobs')
          .values(byKeyOrder(batch.map((item) => item.job)).map(jobToRow))
          .execute()
        for (const item of batch) item.resolve(undefined)
        return
      }
      const outcomes = await db.transaction().execute((tx) => reserveBatch(tx, batch))
      for (const item of batch) {
        const outcome = outcomes.get(item)!
        if ('row' in outcome) item.resolve(outcome.row)
        else item.reject(outcome.refused)
      }
    } catch {
      // One bad row must not fail its neighbours: redo them one by one.
      for (const item of batch) await insertOne(item)
    }
  }

  return {
    /**
     * Inserts the job in the next group commit; with `reservation`, reserves its price first
     * and resolves with the key's row after it (rejects with ReservationRefused when a limit
     * leaves no room: nothing is written).
     */
    insert(job: Job, reservation?: Reservation): Promise<LimitRow | undefined> {
      return new Promise((resolve, reject) => {
        pending.push({ job, reservation, resolve, reject })
        schedule()
      })
    },
  }
}
