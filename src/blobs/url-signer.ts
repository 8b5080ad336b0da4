import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../domain/clock.js'

export type Verdict = 'ok' | 'expired' | 'invalid'

export interface SignedQuery {
  exp: number
  sig: string
}

/** Expiry times are rounded up to this step, so a file's URL stays the same for a while. */
const EXPIRY_STEP_S = 60

/**
 * Signs file URLs: `sig = HMAC-SHA256(secret, key + "\n" + exp)` in base64url, where `exp`
 * is a unix time in seconds. The key and expiry are both covered, so neither can be
 * changed without the secret. Expiries are whole minutes (at least `ttlS` away), so
 * repeated polls get the same URL (browsers cache it) and the signature is computed once.
 */
export function createUrlSigner(secret: Buffer, clock: Clock, ttlS: number) {
  const mac = (key: string, exp: number) => createHmac('sha256', secret).update(`${key}\n${exp}`).digest('base64url')
  const recent = new Map<string, SignedQuery>()

  return {
    ttlS,
    sign(key: string, ttl: number = ttlS): SignedQuery {
      const exp = Math.ceil((Math.floor(clock.now() / 1000) + ttl) / EXPIRY_STEP_S) * EXPIRY_STEP_S
      const hit = recent.get(key)
      if (hit && hit.exp === exp) return hit
      const signed = { exp, sig: mac(key, exp) }
      if (recent.size >= 10_000) recent.clear()
      recent.set(key, signed)
      return signed
    },

    verify(key: string, exp: string | undefined, sig: string | undefined): Verdict {
      if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return 'invalid'
      const expected = Buffer.from(mac(key, Number(exp)))
      const given = Buffer.from(sig)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid'
      // Checked after the signature so an attacker learns nothing from the error.
      return Number(exp) * 1000 < clock.now() ? 'expired' : 'ok'
    },
  }
}

export type UrlSigner = ReturnType<typeof createUrlSigner>
