import { type Kysely, sql } from 'kysely'
import type { Job } from '../domain/job.js'
import type { Channel } from './channel.js'
import { type ChargeRepository, createChargeRepository } from './charge-repository.js'
import { createDeliveryRepository, type DeliveryRepository } from './delivery-repository.js'
import {
  compileUnansweredQuery,
  createIdempotencyRepository,
  type IdempotencyRepository,
} from './idempotency-repository.js'
import { createInsertBatcher, type Reservation, reserveAndInsert } from './insert-batcher.js'
import { compileJobQueries, createJobReads, type JobReads } from './job-repository.js'
import { createJobTransitions, type JobTransitions } from './job-transitions.js'
import { compileKeyQueries, createKeyRepository, type KeyRepository } from './key-repository.js'
import { compileSettleQuery, createLimitRepository, type LimitRepository, type LimitRow } from './limit-repository.js'
import { compilePositionQueries, createQueuePositions, type QueuePositions } from './queue-positions.js'
import { createRetentionRepository, type RetentionRepository } from './retention-repository.js'
import type { Database } from './schema.js'
import { createSecretRepository, type SecretRepository } from './secret-repository.js'
import { compileTransitionQueries } from './transition-queries.js'

/** Which SQL database holds the records. */
export type StoreKind = 'sqlite' | 'postgres'

/** The jobs table: reads, the state machine, and where queued jobs stand. */
export type JobRepository = JobReads &
  JobTransitions &
  QueuePositions & {
    /**
     * Reserves the job's price against its key's limits (the guarded statement) and inserts it,
     * in one transaction: outside one, in the next group commit. Resolves with the key's row
     * after the reservation; rejects with ReservationRefused when a limit leaves no room.
     */
    insertReserved(job: Job, reservation: Reservation): Promise<LimitRow>
  }

/**
 * The records: one repository per table over one database (SQLite embedded, or PostgreSQL).
 * Every SQL statement of fluxhost is in a repository here; `transaction` gives the same
 * repositories bound to one transaction.
 */
export interface Store {
  readonly kind: StoreKind
  readonly jobs: JobRepository
  readonly keys: KeyRepository
  /** Each key's limits, and the counters a create is checked against (migration 0009). */
  readonly limits: LimitRepository
  readonly charges: ChargeRepository
  readonly deliveries: DeliveryRepository
  readonly idempotency: IdempotencyRepository
  readonly secrets: SecretRepository
  /** Retention's sweep: old jobs, webhook deliveries, idempotency keys (FLUXHOST_RETENTION). */
  readonly retention: RetentionRepository
  /** Messages to the other processes on these records; undefined where none can share them (SQLite). */
  readonly channel: Channel | undefined
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>
  /** Resolves when the database answers a trivial query; rejects when it does not. */
  ping(): Promise<void>
  /**
   * A number that changes when another process commits to the records. Caches of
   * records that this process did not write check it to know they may be stale.
   */
  dataVersion(): number
  close(): Promise<void>
}

export function createStore(
  db: Kysely<Database>,
  options: { kind: StoreKind; dataVersion(): number; channel?: Channel },
): Store {
  const { kind } = options
  const jobQueries = compileJobQueries(db)
  const keyQueries = compileKeyQueries(db)
  const positionQueries = compilePositionQueries(db, kind)
  const transitionQueries = compileTransitionQueries(db, kind)
  const settleQuery = compileSettleQuery(db)
  const unansweredQuery = compileUnansweredQuery(db)
  const batcher = createInsertBatcher(db, jobQueries, kind)
  const bind = (executor: Kysely<Database>): Store => {
    const reads = createJobReads(executor, jobQueries)
    return {
      kind,
      jobs: {
        ...reads,
        // Outside a transaction, concurrent creates share one commit.
        ...(executor.isTransaction ? {} : { insert: async (job: Job) => void (await batcher.insert(job)) }),
        insertReserved: async (job: Job, reservation: Reservation) =>
          (executor.isTransaction
            ? await reserveAndInsert(executor, jobQueries, job, reservation)
            : await batcher.insert(job, reservation))!,
        ...createJobTransitions(executor, kind, transitionQueries),
        ...createQueuePositions(executor, positionQueries),
      },
      keys: createKeyRepository(executor, keyQueries),
      limits: createLimitRepository(executor, settleQuery),
      charges: createChargeRepository(executor),
      deliveries: createDeliveryRepository(executor, kind),
      idempotency: createIdempotencyRepository(executor, unansweredQuery),
      secrets: createSecretRepository(executor),
      retention: createRetentionRepository(executor, kind),
      channel: options.channel,
      transaction: (fn) =>
        executor.isTransaction ? fn(bind(executor)) : executor.transaction().execute((trx) => fn(bind(trx))),
      ping: async () => {
        await sql`select 1`.execute(executor)
      },
      dataVersion: options.dataVersion,
      close: async () => {
        await options.channel?.close()
        await db.destroy()
      },
    }
  }
  return bind(db)
}
