import { type Kysely, type Selectable, sql } from 'kysely'
import { lit } from './compiled.js'
import type { AttemptOutcome, Database, WebhookAttemptsTable, WebhookDeliveriesTable } from './schema.js'

export type DeliveryRow = Selectable<WebhookDeliveriesTable>
export type AttemptRow = Selectable<WebhookAttemptsTable>

/** How one attempt ended, and what the delivery becomes. */
export interface AttemptRecord {
  startedAt: number
  latencyMs: number
  status: number | null
  error: string | null
  outcome: AttemptOutcome
  /** For `retry`: when the next attempt is due. */
  nextAttemptAt?: number
  now: number
}

/** Webhook deliveries (rows made by the trigger of migration 0003) and their attempts. */
export function createDeliveryRepository(db: Kysely<Database>, kind: 'sqlite' | 'postgres') {
  return {
    /**
     * Leases the delivery that has been due the longest, or undefined when none is due. A
     * round's first attempt is due `firstDelayMs` after `next_attempt_at` (the schedule's first
     * entry, counted from the job's end or the redelivery); later ones at `next_attempt_at`.
     */
    async claimDue(owner: string, now: number, leaseMs: number, firstDelayMs = 0): Promise<DeliveryRow | undefined> {
      return db
        .updateTable('webhook_deliveries')
        .set({ state: 'delivering', lease_owner: owner, lease_expires_at: now + leaseMs })
        .where('id', '=', (eb) => {
          const head = eb
            .selectFrom('webhook_deliveries')
            .select('id')
            .where('state', '=', lit('pending'))
            .where('next_attempt_at', '<=', now)
            .where((e) => e.or([e('round_attempts', '>', 0), e('next_attempt_at', '<=', now - firstDelayMs)]))
            .orderBy('next_attempt_at')
            .limit(1)
          // As jobs are claimed: concurrent dispatchers take different deliveries.
          return kind === 'postgres' ? head.forUpdate().skipLocked() : head
        })
        .where('state', '=', lit('pending'))
        .returningAll()
        .executeTakeFirst()
    },

    async nextDueAt(firstDelayMs = 0): Promise<number | undefined> {
      const row = await db
        .selectFrom('webhook_deliveries')
        .select((eb) =>
          eb.fn
            .min(sql<number>`next_attempt_at + case when round_attempts = 0 then ${firstDelayMs} else 0 end`)
            .as('next'),
        )
        .where('state', '=', lit('pending'))
        .executeTakeFirst()
      return row?.next == null ? undefined : Number(row.next)
    },

    /**
     * Records an attempt and moves the delivery on, if `owner` still holds it. One
     * transaction: the caller passes a transaction-bound repository.
     */
    async settle(delivery: DeliveryRow, owner: string, record: AttemptRecord): Promise<boolean> {
      const attempt = delivery.attempts + 1
      const updated = await db
        .updateTable('webhook_deliveries')
        .set({
          state: record.outcome === 'retry' ? 'pending' : record.outcome,
          attempts: attempt,
          round_attempts: delivery.round_attempts + 1,
          next_attempt_at: record.outcome === 'retry' ? (record.nextAttemptAt ?? record.now) : null,
          lease_owner: null,
          lease_expires_at: null,
          last_status: record.status,
          last_error: record.error,
          finished_at: record.outcome === 'retry' ? null : record.now,
        })
        .where('id', '=', delivery.id)
        .where('state', '=', lit('delivering'))
        .where('lease_owner', '=', owner)
        .executeTakeFirst()
      if (Number(updated.numUpdatedRows) !== 1) return false
      await db
        .insertInto('webhook_attempts')
        .values({
          delivery_id: delivery.id,
          attempt,
          started_at: record.startedAt,
          latency_ms: Math.round(record.latencyMs),
          status: record.status,
          error: record.error,
          outcome: record.outcome,
        })
        .execute()
      return true
    },

    /** Back to pending without counting an attempt (shutdown in the middle of a POST). */
    async release(id: string, owner: string): Promise<void> {
      await db
        .updateTable('webhook_deliveries')
        .set({ state: 'pending', lease_owner: null, lease_expires_at: null })
        .where('id', '=', id)
        .where('state', '=', lit('delivering'))
        .where('lease_owner', '=', owner)
        .execute()
    },

    /** Deliveries whose dispatcher died mid-POST go back to pending; returns their ids. */
    /** Deliveries back to pending from dead or expired leases, with the owner each was taken from. */
    async recover(now: number, isDead: (owner: string) => boolean): Promise<{ id: string; owner: string | null }[]> {
      const stuck = await db
        .selectFrom('webhook_deliveries')
        .select(['id', 'lease_owner', 'lease_expires_at'])
        .where('state', '=', lit('delivering'))
        .execute()
      const recovered: { id: string; owner: string | null }[] = []
      for (const row of stuck) {
        const expired = row.lease_expires_at === null || Number(row.lease_expires_at) < now
        if (!expired && !isDead(row.lease_owner ?? '')) continue
        const result = await db
          .updateTable('webhook_deliveries')
          .set({ state: 'pending', lease_owner: null, lease_expires_at: null, next_attempt_at: now })
          .where('id', '=', row.id)
          .where('state', '=', lit('delivering'))
          // (`is $1` is SQLite-only; PostgreSQL compares a parameter with `=` or `is null`.)
          .where((eb) =>
            row.lease_owner === null ? eb('lease_owner', 'is', null) : eb('lease_owner', '=', row.lease_owner),
          )
          .executeTakeFirst()
        if (Number(result.numUpdatedRows) === 1) recovered.push({ id: row.id, owner: row.lease_owner })
      }
      return recovered
    },

    /**
     * A key event (a budget alert) to deliver to `url` with this body, due now: in the
     * transaction of what set it off, so it is made exactly when that commits.
     */
    async insertEvent(event: {
      id: string
      jobId: string
      apiKeyId: string
      url: string
      payload: string
      now: number
    }) {
      await db
        .insertInto('webhook_deliveries')
        .values({
          id: event.id,
          job_id: event.jobId,
          api_key_id: event.apiKeyId,
          url: event.url,
          state: 'pending',
          attempts: 0,
          round_attempts: 0,
          next_attempt_at: event.now,
          created_at: event.now,
          payload: event.payload,
        })
        .execute()
    },

    async get(id: string): Promise<DeliveryRow | undefined> {
      return db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst()
    },

    /** The newest deliveries of every key (the admin view), optionally in one state. */
    async recent(options: { state?: DeliveryRow['state']; limit: number }): Promise<DeliveryRow[]> {
      let query = db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(options.limit)
      if (options.state !== undefined) query = query.where('state', '=', options.state)
      return query.execute()
    },

    async listByJob(jobId: string): Promise<DeliveryRow[]> {
      return db.selectFrom('webhook_deliveries').selectAll().where('job_id', '=', jobId).orderBy('created_at').execute()
    },

    /** The state of each job's own webhook (not a key event's), for a page of jobs: one statement. */
    async jobWebhookStates(jobIds: readonly string[]): Promise<{ job_id: string; state: DeliveryRow['state'] }[]> {
      if (jobIds.length === 0) return []
      // Oldest first: where a job was redelivered, the newest delivery is read last (and wins).
      return db
        .selectFrom('webhook_deliveries')
        .select(['job_id', 'state'])
        .where('job_id', 'in', jobIds)
        .where('payload', 'is', null)
        .orderBy('created_at')
        .execute()
    },

    async attempts(deliveryIds: readonly string[]): Promise<AttemptRow[]> {
      if (deliveryIds.length === 0) return []
      return db
        .selectFrom('webhook_attempts')
        .selectAll()
        .where('delivery_id', 'in', deliveryIds)
        .orderBy('delivery_id')
        .orderBy('attempt')
        .execute()
    },

    /** Starts a new round of attempts now, for a delivery that is not already under way. */
    async redeliver(id: string, now: number): Promise<DeliveryRow | undefined> {
      return db
        .updateTable('webhook_deliveries')
        .set({ state: 'pending', round_attempts: 0, next_attempt_at: now, finished_at: null })
        .where('id', '=', id)
        .where('state', 'in', [lit('delivered'), lit('failed'), lit('stopped')])
        .returningAll()
        .executeTakeFirst()
    },
  }
}

export type DeliveryRepository = ReturnType<typeof createDeliveryRepository>
