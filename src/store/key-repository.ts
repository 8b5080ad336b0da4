import { type Insertable, type Kysely, PostgresAdapter, type Selectable } from 'kysely'
import { compileOnce } from './compiled.js'
import type { ApiKeysTable, Database } from './schema.js'

/** A row as stored: its `webhook_secret` is sealed (`v1:…`, or clear from before); `webhookSecret(id)` opens it. */
export type ApiKeyRow = Selectable<ApiKeysTable>

/**
 * Seals webhook secrets for the records and opens them again (blobs/secret-box.ts, keyed by the
 * server secret); `context` is the key's id. `open` throws on a value it cannot open.
 */
export interface Sealer {
  seal(plain: string, context: string): string
  open(sealed: string, context: string): string
  /** Whether a stored value is sealed; one that is not is clear text from before sealing. */
  isSealed(stored: string): boolean
}

export function compileKeyQueries(db: Kysely<Database>) {
  return {
    activeByHash: compileOnce(
      db.selectFrom('api_keys').selectAll().where('key_hash', '=', '').where('revoked_at', 'is', null),
      1,
    ),
    /** Made once per store and shared by its transactions: where `useSealer` puts the sealer. */
    sealing: { sealer: undefined as Sealer | undefined },
  }
}
export type KeyQueries = ReturnType<typeof compileKeyQueries>

export function createKeyRepository(db: Kysely<Database>, queries: KeyQueries) {
  /** The clear text of a stored webhook secret. */
  const open = (id: string, stored: string): string => {
    const { sealer } = queries.sealing
    if (sealer) {
      if (!sealer.isSealed(stored)) return stored
      try {
        return sealer.open(stored, id)
      } catch (error) {
        throw new Error(
          `the webhook secret of key ${id} cannot be read: ${(error as Error).message}. ` +
            `Make a new one with \`fluxhost keys webhook-secret ${id} --rotate\`.`,
          { cause: error },
        )
      }
    }
    if (/^v[0-9]+:/.test(stored)) {
      throw new Error(`the webhook secret of key ${id} is sealed, and this store was given no key to open it`)
    }
    return stored
  }

  /** Replaces a clear-text secret by its sealed form, unless it changed meanwhile (a rotation). */
  const sealInPlace = async (id: string, clear: string, sealer: Sealer): Promise<boolean> => {
    const result = await db
      .updateTable('api_keys')
      .set({ webhook_secret: sealer.seal(clear, id) })
      .where('id', '=', id)
      .where('webhook_secret', '=', clear)
      .executeTakeFirst()
    return Number(result.numUpdatedRows) === 1
  }

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

    /**
     * The ids of the active admin keys made in the records (`db`), locked until the transaction
     * ends, so that "another admin remains" stays true until a revocation commits: on
     * PostgreSQL `for update` (a second revocation waits, then sees the first one's result);
     * on SQLite a no-op write, which takes the database's one writer lock at once (waiting,
     * not failing, when another process holds it). Call it first in a transaction.
     */
    async lockActiveAdmins(): Promise<string[]> {
      if (db.getExecutor().adapter instanceof PostgresAdapter) {
        const rows = await db
          .selectFrom('api_keys')
          .select('id')
          .where('scope', '=', 'admin')
          .where('source', '=', 'db')
          .where('revoked_at', 'is', null)
          .orderBy('id')
          .forUpdate()
          .execute()
        return rows.map((row) => row.id)
      }
      const rows = await db
        .updateTable('api_keys')
        .set({ revoked_at: null })
        .where('scope', '=', 'admin')
        .where('source', '=', 'db')
        .where('revoked_at', 'is', null)
        .returning('id')
        .execute()
      return rows.map((row) => row.id)
    },

    async unrevoke(id: string): Promise<void> {
      await db.updateTable('api_keys').set({ revoked_at: null }).where('id', '=', id).execute()
    },

    /** From now on, webhook secrets are sealed when written and opened when read (every binding of this store). */
    useSealer(sealer: Sealer): void {
      queries.sealing.sealer = sealer
    },

    /**
     * The key's webhook secret: null when it has none, undefined when there is no such key.
     * A clear-text value (written before sealing, or by a process without a sealer) is sealed
     * in place as it is read. Throws when a sealed value does not open (another server
     * secret, or an altered value), and when there is no sealer to open it with.
     */
    async webhookSecret(id: string): Promise<string | null | undefined> {
      const row = await db.selectFrom('api_keys').select('webhook_secret').where('id', '=', id).executeTakeFirst()
      if (!row) return undefined
      if (row.webhook_secret === null) return null
      const plain = open(id, row.webhook_secret)
      const { sealer } = queries.sealing
      if (sealer && !sealer.isSealed(row.webhook_secret)) await sealInPlace(id, row.webhook_secret, sealer)
      return plain
    },

    /**
     * Sets the key's webhook secret (sealed when there is a sealer); with `onlyIfUnset`, only
     * when it has none (two processes making the first one agree on whichever wrote first).
     * Returns the secret now stored, in clear.
     */
    async setWebhookSecret(id: string, secret: string, onlyIfUnset: boolean): Promise<string | undefined> {
      const stored = queries.sealing.sealer?.seal(secret, id) ?? secret
      let update = db.updateTable('api_keys').set({ webhook_secret: stored }).where('id', '=', id)
      if (onlyIfUnset) update = update.where('webhook_secret', 'is', null)
      await update.execute()
      const row = await db.selectFrom('api_keys').select('webhook_secret').where('id', '=', id).executeTakeFirst()
      return row?.webhook_secret == null ? undefined : open(id, row.webhook_secret)
    },

    /** Seals every clear-text webhook secret (once at start); returns how many it sealed. */
    async sealClearWebhookSecrets(): Promise<number> {
      const { sealer } = queries.sealing
      if (!sealer) throw new Error('sealClearWebhookSecrets needs useSealer first')
      const rows = await db
        .selectFrom('api_keys')
        .select(['id', 'webhook_secret'])
        .where('webhook_secret', 'is not', null)
        .execute()
      let sealed = 0
      for (const { id, webhook_secret: stored } of rows) {
        if (stored !== null && !sealer.isSealed(stored) && (await sealInPlace(id, stored, sealer))) sealed++
      }
      return sealed
    },

    async touch(id: string, now: number): Promise<void> {
      await db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', id).execute()
    },
  }
}

export type KeyRepository = ReturnType<typeof createKeyRepository>
