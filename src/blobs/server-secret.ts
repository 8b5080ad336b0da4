import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.js'

/**
 * The server's signing secret, created on first start and kept in the data dir (mode
 * 0600), so file URLs stay valid across restarts.
 */
export function loadOrCreateSecret(file: string): Buffer {
  try {
    const text = fs.readFileSync(file, 'utf8').trim()
    if (/^[0-9a-f]{64}$/.test(text)) return Buffer.from(text, 'hex')
    throw new Error(`${file} does not hold a 64-digit hex secret; delete it to make a new one`)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const secret = randomBytes(32)
  try {
    // 'wx': if another process created it first, use theirs.
    fs.writeFileSync(file, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
    return secret
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateSecret(file)
    throw error
  }
}

/**
 * The signing secret kept in the shared records: made by whichever process asks first (the
 * insert is a no-op when another won the race), then read by all, so every process of a
 * deployment signs and checks the same file URLs.
 */
export async function loadOrCreateSharedSecret(db: Kysely<Database>, name: string, now: number): Promise<Buffer> {
  await db
    .insertInto('secrets')
    .values({ name, value: randomBytes(32).toString('hex'), created_at: now })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute()
  const row = await db.selectFrom('secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow()
  return Buffer.from(row.value, 'hex')
}
