import type { Insertable, Kysely, Selectable } from 'kysely'
import { compileOnce } from './compiled.js'
import type { ApiKeysTable, Database } from './schema.js'

export type ApiKeyRow = Selectable<ApiKeysTable>

export function compileKeyQueries(db: Kysely<Database>) {
  return {
    activeByHash: compileOnce(
      db.selectFrom('api_keys').selectAll().where('key_hash', '=', '').where('revoked_at', 'is', null),
      1,
    ),
  }
}
export type KeyQueries = ReturnType<typeof compileKeyQueries>

export function createKeyRepository(db: Kysely<Database>, queries: KeyQueries) {
  return {
    async insert(row: Insertable<ApiKeysTable>): Promise<void> {
      await db.insertInto('api_keys').values(row).execute()
    },

    /** Inserts unless the key is already there (another process starting at once made it). */
    /** Inserts unless a key with this id exists; true when this call inserted it. */
    async insertIfAbsent(row: Insertable<ApiKeysTable>): Promise<boolean> {
      const result = await db
        .insertInto('api_keys')
        .values(row)
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst()
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1
    },

    async findActiveByHash(hash: string): Promise<ApiKeyRow | undefined> {
      const { rows } = await db.executeQuery(queries.activeByHash([hash]))
      return rows[0]
    },

    async get(id: string): Promise<ApiKeyRow | undefined> {
      return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst()
    },

    async list(): Promise<ApiKeyRow[]> {
      return db.selectFrom('api_keys').selectAll().orderBy('created_at').execute()
    },

    /** Keys of this source: active ones, and all ever made (revoked included), from one snapshot. */
    async counts(source: ApiKeyRow['source']): Promise<{ active: number; total: number }> {
      const row = await db
        .selectFrom('api_keys')
        .select((eb) => [
          eb.fn.countAll<number>().as('total'),
          eb.fn.count<number>('id').filterWhere('revoked_at', 'is', null).as('active'),
        ])
        .where('source', '=', source)
        .executeTakeFirstOrThrow()
      return { active: Number(row.active), total: Number(row.total) }
    },

    async countActive(source: ApiKeyRow['source']): Promise<number> {
      const row = await db
        .selectFrom('api_keys')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('revoked_at', 'is', null)
        .where('source', '=', source)
        .executeTakeFirstOrThrow()
      return Number(row.n)
    },

    async revoke(id: string, now: number): Promise<ApiKeyRow | undefined> {
      return db
        .updateTable('api_keys')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirst()
    },

    async unrevoke(id: string): Promise<void> {
      await db.updateTable('api_keys').set({ revoked_at: null }).where('id', '=', id).execute()
    },

    /**
     * Sets the key's webhook secret; with `onlyIfUnset`, only when it has none (two processes
     * making the first one agree on whichever wrote first). Returns the secret now stored.
     */
    async setWebhookSecret(id: string, secret: string, onlyIfUnset: boolean): Promise<string | undefined> {
      let update = db.updateTable('api_keys').set({ webhook_secret: secret }).where('id', '=', id)
      if (onlyIfUnset) update = update.where('webhook_secret', 'is', null)
      await update.execute()
      const row = await db.selectFrom('api_keys').select('webhook_secret').where('id', '=', id).executeTakeFirst()
      return row?.webhook_secret ?? undefined
    },

    async touch(id: string, now: number): Promise<void> {
      await db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', id).execute()
    },
  }
}

export type KeyRepository = ReturnType<typeof createKeyRepository>
