import { createHmac } from 'node:crypto'
import type { Store } from '../store/store.js'

/**
 * Apiframe's webhook signature: `sha256=` and the hex HMAC-SHA256 of the raw body, keyed with
 * the 32-byte SHA-256 digest of the API key, as Apiframe's SDK verifies it. fluxhost keeps
 * exactly that digest (hex) for every key, so it signs without the key itself. Undefined when
 * the key's row is gone.
 */
export async function keyDigestSignature(store: Store, apiKeyId: string, body: string): Promise<string | undefined> {
  const key = await store.keys.get(apiKeyId)
  if (!key) return undefined
  return `sha256=${createHmac('sha256', Buffer.from(key.key_hash, 'hex')).update(body, 'utf8').digest('hex')}`
}
