import type { Kysely } from 'kysely'
import type { Job } from '../domain/job.js'
import { insertParameters, type JobQueries } from './job-repository.js'
import { jobToRow } from './job-row.js'
import type { Database } from './schema.js'

const MAX_BATCH = 500

/**
 * Group commit for job inserts: every insert requested during one turn of the event loop
 * is written in one statement (so one transaction). Each caller still resolves only after its row is
 * committed, so durability is unchanged; what is shared is the commit (SQLite appends the
 * touched B-tree pages to the WAL once per transaction, not once per row).
 */
export function createInsertBatcher(db: Kysely<Database>, queries: JobQueries) {
  const pending: { job: Job; resolve(): void; reject(error: unknown): void }[] = []

  const insertOne = (job: Job, executor: Kysely<Database>) =>
    executor.executeQuery(queries.insert(insertParameters(job)))

  const flush = async () => {
    const batch = pending.splice(0, MAX_BATCH)
    if (pending.length > 0) setImmediate(() => void flush())
    if (batch.length === 1) {
      const [only] = batch
      await insertOne(only!.job, db).then(() => only!.resolve(), only!.reject)
      return
    }
    try {
      // One multi-row statement: one round trip to PostgreSQL, one commit on either.
      await db
        .insertInto('jobs')
        .values(batch.map((item) => jobToRow(item.job)))
        .execute()
      for (const item of batch) item.resolve()
    } catch {
      // One bad row must not fail its neighbours: redo them one by one.
      for (const item of batch) await insertOne(item.job, db).then(() => item.resolve(), item.reject)
    }
  }

  return {
    insert(job: Job): Promise<void> {
      return new Promise((resolve, reject) => {
        pending.push({ job, resolve, reject })
        if (pending.length === 1) setImmediate(() => void flush())
      })
    },
  }
}
