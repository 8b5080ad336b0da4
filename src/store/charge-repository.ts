import { type Kysely, type Selectable, sql } from 'kysely'
import type { ChargesTable, Database } from './schema.js'

export type ChargeRow = Selectable<ChargesTable>

export function createChargeRepository(db: Kysely<Database>) {
  return {
    async insert(row: ChargeRow): Promise<void> {
      await db.insertInto('charges').values(row).execute()
    },

    async forJob(jobId: string): Promise<ChargeRow | undefined> {
      return db.selectFrom('charges').selectAll().where('job_id', '=', jobId).executeTakeFirst()
    },

    /**
     * Spend per UTC day and model since a time, for one key or (undefined) all keys.
     * `day` is days since the epoch; plain integer division works the same in SQLite and
     * PostgreSQL.
     */
    async daily(
      apiKeyId: string | undefined,
      since: number,
    ): Promise<{ day: number; model: string; amountMicros: number; images: number; jobs: number }[]> {
      let query = db
        .selectFrom('charges')
        .select((eb) => [
          sql<number>`created_at / 86400000`.as('day'),
          'model',
          eb.fn.sum<number>('amount_micros').as('amount'),
          eb.fn.sum<number>('images').as('images'),
          eb.fn.countAll<number>().as('jobs'),
        ])
        .where('created_at', '>=', since)
        .groupBy([sql`created_at / 86400000`, 'model'])
        .orderBy(sql`created_at / 86400000`)
        .orderBy('model')
      if (apiKeyId !== undefined) query = query.where('api_key_id', '=', apiKeyId)
      const rows = await query.execute()
      return rows.map((r) => ({
        day: Number(r.day),
        model: r.model,
        amountMicros: Number(r.amount),
        images: Number(r.images),
        jobs: Number(r.jobs),
      }))
    },

    /**
     * Spend per UTC day, key and model since a time (the usage export), for one key or every
     * key, with each key's name; oldest day first.
     */
    async dailyByKey(
      apiKeyId: string | undefined,
      since: number,
    ): Promise<
      {
        day: number
        keyId: string
        keyName: string
        model: string
        amountMicros: number
        images: number
        jobs: number
      }[]
    > {
      let query = db
        .selectFrom('charges')
        .innerJoin('api_keys', 'api_keys.id', 'charges.api_key_id')
        .select((eb) => [
          sql<number>`charges.created_at / 86400000`.as('day'),
          'charges.api_key_id as keyId',
          'api_keys.name as keyName',
          'charges.model as model',
          eb.fn.sum<number>('charges.amount_micros').as('amount'),
          eb.fn.sum<number>('charges.images').as('images'),
          eb.fn.countAll<number>().as('jobs'),
        ])
        .where('charges.created_at', '>=', since)
        .groupBy([sql`charges.created_at / 86400000`, 'charges.api_key_id', 'api_keys.name', 'charges.model'])
        .orderBy(sql`charges.created_at / 86400000`)
        .orderBy('charges.api_key_id')
        .orderBy('charges.model')
      if (apiKeyId !== undefined) query = query.where('charges.api_key_id', '=', apiKeyId)
      const rows = await query.execute()
      return rows.map((r) => ({
        day: Number(r.day),
        keyId: r.keyId,
        keyName: r.keyName,
        model: r.model,
        amountMicros: Number(r.amount),
        images: Number(r.images),
        jobs: Number(r.jobs),
      }))
    },

    /** Total spend and images for one key since a time (inclusive). */
    async totals(apiKeyId: string, since = 0): Promise<{ amountMicros: number; images: number; jobs: number }> {
      const row = await db
        .selectFrom('charges')
        .select((eb) => [
          eb.fn.coalesce(eb.fn.sum<number>('amount_micros'), eb.lit(0)).as('amount'),
          eb.fn.coalesce(eb.fn.sum<number>('images'), eb.lit(0)).as('images'),
          eb.fn.countAll<number>().as('jobs'),
        ])
        .where('api_key_id', '=', apiKeyId)
        .where('created_at', '>=', since)
        .executeTakeFirstOrThrow()
      return { amountMicros: Number(row.amount), images: Number(row.images), jobs: Number(row.jobs) }
    },
  }
}

export type ChargeRepository = ReturnType<typeof createChargeRepository>
