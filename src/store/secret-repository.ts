import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Database } from './schema.js'

/** Secrets shared by every process of a deployment (migration 0005). */
export function createSecretRepository(db: Kysely<Database>) {
  return {
    /**
     * The secret `name` (32 random bytes): made by whichever process asks first (the insert
     * is a no-op when another won the race), then read by all.
     */
    async loadOrCreate(name: string, now: number): Promise<Buffer> {
      await db
        .insertInto('secrets')
        .values({ name, value: randomBytes(32).toString('hex'), created_at: now })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute()
      const row = await db.selectFrom('secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow()
      return Buffer.from(row.value, 'hex')
    },
  }
}

export type SecretRepository = ReturnType<typeof createSecretRepository>
