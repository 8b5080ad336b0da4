import { type Kysely, type Selectable, sql } from 'kysely'
import type { ChargesTable, Database } from './schema.js'

export type ChargeRow = Selectable<ChargesTable>
/** A charge to write; the engine and its provider's cost when known. */
export type NewCharge = Omit<ChargeRow, 'engine' | 'upstream_micros'> &
  Partial<Pick<ChargeRow, 'engine' | 'upstream_micros'>>

export function createChargeRepository(db: Kysely<Database>) {
  return {
    async insert(row: NewCharge): Promise<void> {
      await db
        .insertInto('charges')
        .values({ ...row, engine: row.engine ?? null, upstream_micros: row.upstream_micros ?? null })
        .execute()
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

    /**
     * Charged and upstream cost per engine since a time, for one key or every key: `upstream`
     * sums the charges whose provider cost is known (`priced` of them), so a margin compares like
     * with like. Charges from before engines were recorded come as engine null.
     */
    async byEngine(
      apiKeyId: string | undefined,
      since: number,
    ): Promise<
      {
        engine: string | null
        jobs: number
        images: number
        amountMicros: number
        priced: number
        pricedAmountMicros: number
        upstreamMicros: number
      }[]
    > {
      let query = db
        .selectFrom('charges')
        .select((eb) => [
          'engine',
          eb.fn.countAll<number>().as('jobs'),
          eb.fn.sum<number>('images').as('images'),
          eb.fn.sum<number>('amount_micros').as('amount'),
          eb.fn.count<number>('upstream_micros').as('priced'),
          eb.fn
            .coalesce(
              eb.fn.sum<number>(eb.case().when('upstream_micros', 'is not', null).then(eb.ref('amount_micros')).end()),
              eb.lit(0),
            )
            .as('priced_amount'),
          eb.fn.coalesce(eb.fn.sum<number>('upstream_micros'), eb.lit(0)).as('upstream'),
        ])
        .where('created_at', '>=', since)
        .groupBy('engine')
        .orderBy('engine')
      if (apiKeyId !== undefined) query = query.where('api_key_id', '=', apiKeyId)
      const rows = await query.execute()
      return rows.map((r) => ({
        engine: r.engine,
        jobs: Number(r.jobs),
        images: Number(r.images),
        amountMicros: Number(r.amount),
        priced: Number(r.priced),
        pricedAmountMicros: Number(r.priced_amount),
        upstreamMicros: Number(r.upstream),
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
