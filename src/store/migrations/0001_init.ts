import { sql, type Kysely } from 'kysely'

// Append-only: once shipped, never edit this file; add 0002_… instead.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('key_prefix', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('user', 'admin')`))
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('db', 'env', 'local')`))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .execute()

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('api_key_id', 'text', (c) => c.notNull().references('api_keys.id'))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('dialect', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('queued', 'running', 'succeeded', 'failed', 'canceled')`),
    )
    .addColumn('progress', 'real', (c) => c.notNull().defaultTo(0))
    .addColumn('request', 'text', (c) => c.notNull())
    .addColumn('result', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('cost_micros', 'bigint', (c) => c.notNull())
    .addColumn('engine', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('run_after', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('started_at', 'bigint')
    .addColumn('finished_at', 'bigint')
    .execute()

  // The claim query walks this partial index in queue order and touches nothing else.
  await db.schema
    .createIndex('jobs_queue')
    .on('jobs')
    .columns(['priority desc', 'run_after', 'id'])
    .where(sql.ref('state'), '=', 'queued')
    .execute()
  await db.schema
    .createIndex('jobs_leases')
    .on('jobs')
    .column('lease_expires_at')
    .where(sql.ref('state'), '=', 'running')
    .execute()
  await db.schema.createIndex('jobs_by_key').on('jobs').columns(['api_key_id', 'id']).execute()
  await db.schema.createIndex('jobs_by_state').on('jobs').column('state').execute()

  await db.schema
    .createTable('charges')
    // One charge per job at most: the primary key makes a double charge impossible.
    .addColumn('job_id', 'text', (c) => c.primaryKey().references('jobs.id'))
    .addColumn('api_key_id', 'text', (c) => c.notNull().references('api_keys.id'))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('images', 'integer', (c) => c.notNull())
    .addColumn('amount_micros', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('charges_by_key').on('charges').columns(['api_key_id', 'created_at']).execute()
}
