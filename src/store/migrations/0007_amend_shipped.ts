import { type Kysely, sql } from 'kysely'
import { isPostgres } from './dialect.js'

// Append-only: once shipped, never edit this file; add 0008_… instead.
//
// Three changes that were once made by editing shipped migrations, made here instead, so that
// every database ends up with them whichever version of those files it ran (a test now
// checks shipped migrations against a checksum list):
// - 0004: `idempotency_keys.holder` (which request holds a key; only it may complete or
//   release it), added an hour after 0004 shipped.
// - 0002 and 0003 on PostgreSQL: the trigger functions run with the search_path they were
//   created under, so a fluxhost in its own schema finds its own tables from any session.
// Each step is a no-op where the database has it already.
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = isPostgres(db)
  const holder = postgres
    ? sql<{ found: number }>`select 1 as found from information_schema.columns
        where table_schema = current_schema() and table_name = 'idempotency_keys' and column_name = 'holder'`
    : sql<{ found: number }>`select 1 as found from pragma_table_info('idempotency_keys')
        where name = 'holder'`
  const { rows } = await holder.execute(db)
  if (rows.length === 0) {
    // Keys held before this column existed expire within their TTL; '' matches no holder.
    await sql`alter table idempotency_keys add column holder text not null default ''`.execute(db)
    // As the edited 0004 made it: no default (SQLite cannot drop one; every insert sets it).
    if (postgres) await sql`alter table idempotency_keys alter column holder drop default`.execute(db)
  }
  if (!postgres) return
  await sql`create or replace function fluxhost_queue_depth() returns trigger language plpgsql
    set search_path from current as $$
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
  await sql`create or replace function fluxhost_webhook_on_finish() returns trigger language plpgsql
    set search_path from current as $$
      declare
        now_ms bigint := coalesce(new.finished_at, (extract(epoch from clock_timestamp()) * 1000)::bigint);
      begin
        if new.state in ('succeeded', 'failed', 'canceled')
           and (tg_op = 'INSERT' or old.state not in ('succeeded', 'failed', 'canceled'))
           and (new.request::jsonb #>> '{webhook,url}') is not null then
          insert into webhook_deliveries
            (id, job_id, api_key_id, url, state, attempts, round_attempts, next_attempt_at, created_at)
          values ('msg_' || replace(gen_random_uuid()::text, '-', ''), new.id, new.api_key_id,
                  new.request::jsonb #>> '{webhook,url}', 'pending', 0, 0, now_ms, now_ms);
        end if;
        return new;
      end $$`.execute(db)
}
