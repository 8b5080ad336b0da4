import { type Kysely, sql } from 'kysely'
import { isPostgres } from './dialect.js'

// Append-only: once shipped, never edit this file; add 0010_… instead.
//
// Per-key limits (concurrency, creates per minute, prepaid credits, a budget per period) and
// the counters they are checked against, on the key's own row. Limits: NULL takes the
// server's default (config), -1 is "none". Money is in micro-dollars, like charges.
//
// Two counters are kept by triggers, in the same transaction as every change of a job's
// state, whichever code path makes it (create, worker, cancel, revocation, recovery):
// `active_jobs` (queued or running) and `reserved_micros` (their quoted cost). A job that
// ends any way but success thereby releases its reservation; success settles it (the
// charge, credits and period spend are written with the completion, by the store). The
// third trigger numbers claims per key (`served_seq`), which the fair claim orders keys by.
// `event_webhook_url`: where the key's own events (budget alerts) are sent. The budget and
// period in force (the key's own, else the server's default, as the API process last worked
// them out) are kept on the row, so that a worker settles into the right period whatever its
// own configuration; `alerted_*`: the highest budget alert sent in which period.
export async function up(db: Kysely<unknown>): Promise<void> {
  const columns: [string, 'integer' | 'bigint' | 'text', boolean][] = [
    ['max_concurrency', 'integer', false],
    ['rpm_limit', 'integer', false],
    ['credits_micros', 'bigint', false],
    ['budget_micros', 'bigint', false],
    ['budget_period', 'text', false],
    ['active_jobs', 'integer', true],
    ['reserved_micros', 'bigint', true],
    ['rpm_window', 'bigint', true],
    ['rpm_count', 'integer', true],
    ['period_start', 'bigint', true],
    ['period_spent_micros', 'bigint', true],
    ['served_seq', 'bigint', true],
    ['event_webhook_url', 'text', false],
    ['budget_in_force_micros', 'bigint', false],
    ['period_in_force', 'text', false],
    ['alerted_period_start', 'bigint', false],
    ['alerted_percent', 'integer', false],
  ]
  for (const [name, type, counter] of columns) {
    await db.schema
      .alterTable('api_keys')
      .addColumn(name, type, (c) => (counter ? c.notNull().defaultTo(0) : c))
      .execute()
  }
  // A key's own events (budget alerts) are deliveries like a job's webhook, with their body
  // written when they are made; they name the job whose charge set them off.
  await db.schema.alterTable('webhook_deliveries').addColumn('payload', 'text').execute()
  // No job may change while the counters are filled in (an older process may still be writing).
  if (isPostgres(db)) await sql`lock table jobs in share mode`.execute(db)
  await sql`update api_keys set
      active_jobs = (select count(*) from jobs where jobs.api_key_id = api_keys.id and jobs.state in ('queued', 'running')),
      reserved_micros = (select coalesce(sum(cost_micros), 0) from jobs
                         where jobs.api_key_id = api_keys.id and jobs.state in ('queued', 'running'))`.execute(db)
  // SQLite numbers a claim's turn from the highest number so far (an index lookup); PostgreSQL
  // from a sequence (below), so its key rows have no index on a column every claim changes.
  if (!isPostgres(db)) await db.schema.createIndex('api_keys_served').on('api_keys').column('served_seq').execute()
  // The fair claim's second step: one key's queued jobs, in the order the key's own are run.
  await db.schema
    .createIndex('jobs_queue_by_key')
    .on('jobs')
    .columns(['api_key_id', 'priority desc', 'run_after', 'id'])
    .where(sql.ref('state'), '=', 'queued')
    .execute()

  // Credits added to (or set on) a key: who, when, how much, and the balance after.
  await db.schema
    .createTable('credit_ledger')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('api_key_id', 'text', (c) => c.notNull().references('api_keys.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('topup', 'set')`))
    .addColumn('delta_micros', 'bigint', (c) => c.notNull())
    .addColumn('balance_micros', 'bigint')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('note', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('credit_ledger_by_key').on('credit_ledger').columns(['api_key_id', 'created_at']).execute()

  if (isPostgres(db)) {
    // Claims number their key's turn from a sequence: no read of every key's number per claim.
    await sql`create sequence fluxhost_served_seq`.execute(db)
    await sql`create function fluxhost_key_counters() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          if new.state in ('queued', 'running') then
            update api_keys set active_jobs = active_jobs + 1, reserved_micros = reserved_micros + new.cost_micros
              where id = new.api_key_id;
          end if;
          return new;
        elsif tg_op = 'DELETE' then
          if old.state in ('queued', 'running') then
            update api_keys set active_jobs = active_jobs - 1, reserved_micros = reserved_micros - old.cost_micros
              where id = old.api_key_id;
          end if;
          return old;
        end if;
        if old.state in ('queued', 'running') and new.state not in ('queued', 'running') then
          update api_keys set active_jobs = active_jobs - 1, reserved_micros = reserved_micros - old.cost_micros
            where id = old.api_key_id;
        elsif old.state = 'queued' and new.state = 'running' then
          update api_keys set served_seq = nextval('fluxhost_served_seq') where id = new.api_key_id;
        end if;
        return new;
      end $$`.execute(db)
    await sql`create trigger jobs_key_counters after insert or delete or update of state on jobs
      for each row execute function fluxhost_key_counters()`.execute(db)
    return
  }
  const triggers = [
    sql`create trigger jobs_reserve_on_insert after insert on jobs when new.state in ('queued', 'running')
        begin update api_keys set active_jobs = active_jobs + 1, reserved_micros = reserved_micros + new.cost_micros
              where id = new.api_key_id; end`,
    sql`create trigger jobs_release_on_delete after delete on jobs when old.state in ('queued', 'running')
        begin update api_keys set active_jobs = active_jobs - 1, reserved_micros = reserved_micros - old.cost_micros
              where id = old.api_key_id; end`,
    sql`create trigger jobs_release after update of state on jobs
        when old.state in ('queued', 'running') and new.state not in ('queued', 'running')
        begin update api_keys set active_jobs = active_jobs - 1, reserved_micros = reserved_micros - old.cost_micros
              where id = old.api_key_id; end`,
    sql`create trigger jobs_served after update of state on jobs when old.state = 'queued' and new.state = 'running'
        begin update api_keys set served_seq = (select coalesce(max(served_seq), 0) + 1 from api_keys)
              where id = new.api_key_id; end`,
  ]
  for (const trigger of triggers) await trigger.execute(db)
}
