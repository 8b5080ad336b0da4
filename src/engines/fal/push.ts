/** Checks fal's webhook calls: ED25519 over the documented message, with a key from fal's JWKS. */
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { request } from 'undici'
import type { PushCall } from '../push.js'

export const FAL_JWKS_URL = 'https://rest.alpha.fal.ai/.well-known/jwks.json'

export interface FalVerifierOptions {
  /** fal's JWKS (FLUXHOST_FAL_JWKS_URL; an emulator's in tests). */
  url: string
  /** How long fetched keys are used before they are fetched again (default 1 h). */
  cacheMs?: number
  /**
   * The least time between two fetches (default 30 s): a call no key verifies fetches the
   * keys again once (fal may have rotated them), but forged calls must not make each a fetch.
   */
  retryMs?: number
  /** The JWKS request's limit (default 10 s). */
  timeoutMs?: number
}

/** fal's documented tolerance for the signed timestamp, either way. */
const SKEW_S = 300
/** A JWKS is a few keys; anything larger is not fal's. */
const MAX_JWKS_BYTES = 64 * 1024

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** The Ed25519 keys of a JWKS body; others (and broken entries) are skipped. */
function ed25519Keys(json: unknown): KeyObject[] {
  const list = (json as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) return []
  const keys: KeyObject[] = []
  for (const entry of list) {
    const jwk = entry as { kty?: unknown; crv?: unknown; x?: unknown } | null
    if (jwk?.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') continue
    try {
      keys.push(createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }))
    } catch {
      // A malformed key cannot verify anything: the others still can.
    }
  }
  return keys
}

/**
 * fal's webhook check (reference/providers.md §2): headers X-Fal-Webhook-Request-Id, -User-Id,
 * -Timestamp (unix s, ±300 s) and -Signature (hex ED25519) over `request_id \n user_id \n
 * timestamp \n sha256hex(raw body)`, with any key of fal's JWKS; the body's request id must be
 * the signed one. Keys are cached; a call no cached key verifies fetches them once more (at
 * most every `retryMs`). Never throws: any problem is false.
 */
export function createFalVerifier(options: FalVerifierOptions): (call: PushCall) => Promise<boolean> {
  const cacheMs = options.cacheMs ?? 3_600_000
  const retryMs = options.retryMs ?? 30_000
  const timeoutMs = options.timeoutMs ?? 10_000
  let keys: KeyObject[] = []
  let fetchedAt = Number.NEGATIVE_INFINITY
  let triedAt = Number.NEGATIVE_INFINITY
  let inFlight: Promise<void> | undefined

  const fetchKeys = async (): Promise<void> => {
    triedAt = Date.now()
    try {
      const signal = AbortSignal.timeout(timeoutMs)
      const response = await request(options.url, { signal, headers: { accept: 'application/json' } })
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length
        if (size > MAX_JWKS_BYTES) throw new Error('JWKS too large')
        chunks.push(chunk)
      }
      if (response.statusCode !== 200) return
      const found = ed25519Keys(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      // An empty or broken answer keeps the keys we had: they may still be good.
      if (found.length === 0) return
      keys = found
      fetchedAt = Date.now()
    } catch {
      // Unreachable or not JSON: the cached keys (if any) stay, and the next try waits retryMs.
    }
  }

  /** Fetches unless one ran within `retryMs`; concurrent callers share one fetch. */
  const refresh = async (): Promise<boolean> => {
    if (inFlight !== undefined) {
      await inFlight
      return true
    }
    if (Date.now() - triedAt < retryMs) return false
    inFlight = fetchKeys().finally(() => {
      inFlight = undefined
    })
    await inFlight
    return true
  }

  const verifiedBy = (list: KeyObject[], message: Buffer, signature: Buffer) =>
    list.some((key) => {
      try {
        return verify(null, message, key, signature)
      } catch {
        return false
      }
    })

  return async (call) => {
    try {
      const requestId = header(call.headers, 'x-fal-webhook-request-id')
      const userId = header(call.headers, 'x-fal-webhook-user-id')
      const timestamp = header(call.headers, 'x-fal-webhook-timestamp')
      const signatureHex = header(call.headers, 'x-fal-webhook-signature')
      if (!requestId || !userId || !timestamp || !signatureHex) return false
      if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > SKEW_S) return false
      // An Ed25519 signature is 64 bytes.
      if (!/^[0-9a-f]{128}$/i.test(signatureHex)) return false
      const body = JSON.parse(call.body.toString('utf8')) as { request_id?: unknown; gateway_request_id?: unknown }
      // fal says gateway_request_id equals request_id unless fal retried; which one the header
      // then carries is not documented, so either binds the body to the signed id.
      if (body?.request_id !== requestId && body?.gateway_request_id !== requestId) return false
      const digest = createHash('sha256').update(call.body).digest('hex')
      const message = Buffer.from(`${requestId}\n${userId}\n${timestamp}\n${digest}`, 'utf8')
      const signature = Buffer.from(signatureHex, 'hex')
      if (Date.now() - fetchedAt > cacheMs) await refresh()
      if (verifiedBy(keys, message, signature)) return true
      // fal may have rotated its keys since they were fetched: look once more (bounded).
      return (await refresh()) && verifiedBy(keys, message, signature)
    } catch {
      return false
    }
  }
}
