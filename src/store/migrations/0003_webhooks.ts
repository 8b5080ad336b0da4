import { sql, type Kysely } from 'kysely'
import { isPostgres } from './dialect.js'

// Append-only: once shipped, never edit this file; add 0004_… instead.
//
// Webhook deliveries. A delivery row is made by a trigger in the same transaction that
// puts a job with a webhook into a terminal state, whichever code path does it (worker,
// cancel, recovery), so a finished job can never miss its webhook, and it is made once:
// only the transition into a terminal state fires it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('webhook_secret', 'text').execute()

  await db.schema
    .createTable('webhook_deliveries')
    // The Standard Webhooks message id (`webhook-id`), stable across retries.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id'))
    .addColumn('api_key_id', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'delivering', 'delivered', 'failed', 'stopped')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    // Attempts in the current round: the retry schedule restarts on a redelivery.
    .addColumn('round_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'bigint')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute()
  await db.schema.createIndex('deliveries_due').on('webhook_deliveries').columns(['next_attempt_at']).where(sql.ref('state'), '=', 'pending').execute()
  await db.schema.createIndex('deliveries_leases').on('webhook_deliveries').column('lease_expires_at').where(sql.ref('state'), '=', 'delivering').execute()
  await db.schema.createIndex('deliveries_by_job').on('webhook_deliveries').column('job_id').execute()

  await db.schema
    .createTable('webhook_attempts')
    .addColumn('delivery_id', 'text', (c) => c.notNull().references('webhook_deliveries.id'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('status', 'integer')
    .addColumn('error', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome in ('delivered', 'retry', 'failed', 'stopped')`))
    .addPrimaryKeyConstraint('webhook_attempts_pk', ['delivery_id', 'attempt'])
    .execute()

  // PostgreSQL (added with the PostgreSQL store; SQLite databases are unaffected): one
  // trigger function for both cases, the same row as SQLite's triggers make.
  if (isPostgres(db)) {
    await sql`create function fluxhost_webhook_on_finish() returns trigger language plpgsql as $$
      declare
        now_ms bigint := coalesce(new.finished_at, (extract(epoch from clock_timestamp()) * 1000)::bigint);
      begin
        if new.state in ('succeeded', 'failed', 'canceled')
           and (tg_op = 'INSERT' or old.state not in ('succeeded', 'failed', 'canceled'))
           and (new.request::jsonb #>> '{webhook,url}') is not null then
          insert into webhook_deliveries (id, job_id, api_key_id, url, state, attempts, round_attempts, next_attempt_at, created_at)
          values ('msg_' || replace(gen_random_uuid()::text, '-', ''), new.id, new.api_key_id, new.request::jsonb #>> '{webhook,url}',
                  'pending', 0, 0, now_ms, now_ms);
        end if;
        return new;
      end $$`.execute(db)
    await sql`create trigger jobs_webhook_on_finish after insert or update of state on jobs
      for each row execute function fluxhost_webhook_on_finish()`.execute(db)
    return
  }
  const insertDelivery = sql`
    insert into webhook_deliveries (id, job_id, api_key_id, url, state, attempts, round_attempts, next_attempt_at, created_at)
    values ('msg_' || lower(hex(randomblob(16))), new.id, new.api_key_id, json_extract(new.request, '$.webhook.url'), 'pending', 0, 0,
            coalesce(new.finished_at, cast(unixepoch('subsec') * 1000 as integer)), coalesce(new.finished_at, cast(unixepoch('subsec') * 1000 as integer)))`
  await sql`create trigger jobs_webhook_on_finish after update of state on jobs
    when new.state in ('succeeded', 'failed', 'canceled') and old.state not in ('succeeded', 'failed', 'canceled')
      and json_extract(new.request, '$.webhook.url') is not null
    begin ${insertDelivery}; end`.execute(db)
  await sql`create trigger jobs_webhook_on_insert_finished after insert on jobs
    when new.state in ('succeeded', 'failed', 'canceled') and json_extract(new.request, '$.webhook.url') is not null
    begin ${insertDelivery}; end`.execute(db)
}
