import { sql, type Kysely } from 'kysely'
import { isPostgres } from './dialect.js'

// Append-only: once shipped, never edit this file; add 0003_… instead.
//
// The number of queued jobs, kept exact by triggers in the same transaction as every
// change of a job's state, so reading the queue's depth is one row instead of a count
// over the whole queue. Queue positions use it too: a job's position is the depth minus
// the jobs behind it, and a new job has (almost) nothing behind it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('queue_stats')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('depth', 'integer', (c) => c.notNull())
    .execute()
  await sql`insert into queue_stats (id, depth) select 1, count(*) from jobs where state = 'queued'`.execute(db)
  // PostgreSQL (added with the PostgreSQL store; SQLite databases are unaffected): the same
  // counts from one trigger function. Every enqueue updates this one row, so enqueues from
  // different connections take turns on its lock until they commit.
  if (isPostgres(db)) {
    await sql`create function fluxhost_queue_depth() returns trigger language plpgsql as $$
      begin
        if tg_op = 'INSERT' then
          if new.state = 'queued' then update queue_stats set depth = depth + 1 where id = 1; end if;
          return new;
        elsif tg_op = 'DELETE' then
          if old.state = 'queued' then update queue_stats set depth = depth - 1 where id = 1; end if;
          return old;
        end if;
        if old.state <> 'queued' and new.state = 'queued' then update queue_stats set depth = depth + 1 where id = 1;
        elsif old.state = 'queued' and new.state <> 'queued' then update queue_stats set depth = depth - 1 where id = 1;
        end if;
        return new;
      end $$`.execute(db)
    await sql`create trigger jobs_queue_depth after insert or delete or update of state on jobs
      for each row execute function fluxhost_queue_depth()`.execute(db)
    return
  }
  const triggers = [
    sql`create trigger jobs_enter_queue_on_insert after insert on jobs when new.state = 'queued'
        begin update queue_stats set depth = depth + 1 where id = 1; end`,
    sql`create trigger jobs_leave_queue_on_delete after delete on jobs when old.state = 'queued'
        begin update queue_stats set depth = depth - 1 where id = 1; end`,
    sql`create trigger jobs_enter_queue after update of state on jobs when old.state <> 'queued' and new.state = 'queued'
        begin update queue_stats set depth = depth + 1 where id = 1; end`,
    sql`create trigger jobs_leave_queue after update of state on jobs when old.state = 'queued' and new.state <> 'queued'
        begin update queue_stats set depth = depth - 1 where id = 1; end`,
  ]
  for (const trigger of triggers) await trigger.execute(db)
}
