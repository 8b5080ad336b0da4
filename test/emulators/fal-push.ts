import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto'

/** The user id fal's emulated calls are signed for (fal puts the account's in X-Fal-Webhook-User-Id). */
export const FAL_EMULATED_USER = 'emulated-user'

/**
 * fal's webhook signing as reference/providers.md §2 describes it: ED25519 over
 * `request_id \n user_id \n timestamp \n sha256hex(raw body)`, the signature in hex, the
 * public key published in a JWKS (OKP/Ed25519, base64url `x`). `rotate` swaps the key pair,
 * as fal may, so a verifier's cached JWKS goes stale.
 */
export function createFalSigner(initial?: KeyObject) {
  let privateKey = initial ?? generateKeyPairSync('ed25519').privateKey
  let kid = randomBytes(6).toString('hex')
  return {
    jwks() {
      const jwk = createPublicKey(privateKey).export({ format: 'jwk' })
      return { keys: [{ ...jwk, kid, use: 'sig', alg: 'EdDSA' }] }
    },
    /** The four X-Fal-Webhook-* headers for `body` (timestamp: unix seconds, default now). */
    headers(requestId: string, body: Buffer, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
      const digest = createHash('sha256').update(body).digest('hex')
      const message = `${requestId}\n${FAL_EMULATED_USER}\n${timestamp}\n${digest}`
      return {
        'x-fal-webhook-request-id': requestId,
        'x-fal-webhook-user-id': FAL_EMULATED_USER,
        'x-fal-webhook-timestamp': String(timestamp),
        'x-fal-webhook-signature': sign(null, Buffer.from(message), privateKey).toString('hex'),
      }
    },
    rotate(next?: KeyObject) {
      privateKey = next ?? generateKeyPairSync('ed25519').privateKey
      kid = randomBytes(6).toString('hex')
    },
  }
}

/** POSTs a signed call; the status fluxhost answered (0: no answer). */
export async function postWebhook(url: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(15_000),
    })
    await response.arrayBuffer()
    return response.status
  } catch {
    return 0
  }
}
