import type { Kysely } from 'kysely'
import { createChargeRepository, type ChargeRepository } from './charge-repository.js'
import { createDeliveryRepository, type DeliveryRepository } from './delivery-repository.js'
import { createIdempotencyRepository, type IdempotencyRepository } from './idempotency-repository.js'
import { createInsertBatcher } from './insert-batcher.js'
import { compileJobQueries, createJobRepository, type JobRepository } from './job-repository.js'
import { compileKeyQueries, createKeyRepository, type KeyRepository } from './key-repository.js'
import type { Database } from './schema.js'

/**
 * The records: one repository per table over one Kysely database (SQLite embedded, or
 * PostgreSQL). `transaction` gives the same repositories bound to one transaction.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  readonly db: Kysely<Database>
  readonly jobs: JobRepository
  readonly keys: KeyRepository
  readonly charges: ChargeRepository
  readonly deliveries: DeliveryRepository
  readonly idempotency: IdempotencyRepository
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>
  /**
   * A number that changes when another process commits to the records. Caches of
   * records that this process did not write check it to know they may be stale.
   */
  dataVersion(): number
  close(): Promise<void>
}

export function createStore(db: Kysely<Database>, options: { kind?: Store['kind']; dataVersion(): number }): Store {
  const jobQueries = compileJobQueries(db)
  const keyQueries = compileKeyQueries(db)
  const batcher = createInsertBatcher(db, jobQueries)
  const bind = (executor: Kysely<Database>): Store => {
    const jobs = createJobRepository(executor, jobQueries)
    return {
      kind: options.kind ?? 'sqlite',
      db: executor,
      // Outside a transaction, concurrent creates share one commit.
      jobs: executor.isTransaction ? jobs : { ...jobs, insert: batcher.insert },
      keys: createKeyRepository(executor, keyQueries),
      charges: createChargeRepository(executor),
      deliveries: createDeliveryRepository(executor),
      idempotency: createIdempotencyRepository(executor),
      transaction: (fn) =>
        executor.isTransaction ? fn(bind(executor)) : executor.transaction().execute((trx) => fn(bind(trx))),
      dataVersion: options.dataVersion,
      close: () => db.destroy(),
    }
  }
  return bind(db)
}
