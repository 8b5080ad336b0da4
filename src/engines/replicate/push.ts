/** Checks Replicate's webhook calls (Standard Webhooks), with the account's signing secret. */
import type { IncomingHttpHeaders } from 'node:http'
import { Webhook, WebhookVerificationError } from 'standardwebhooks'
import type { PushCall } from '../push.js'
import type { UpstreamClient } from '../upstream-client.js'

export interface ReplicateVerifierOptions {
  /**
   * The least time between two fetches of the secret (default 30 s): a call the cached secret
   * does not verify fetches it once more (it may have been rotated), but forged calls must not
   * make each a request to Replicate.
   */
  retryMs?: number
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/**
 * Replicate's webhook check (reference/providers.md §3): `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` over `${id}.${timestamp}.${rawBody}`, HMAC-SHA256 keyed with the secret
 * from `GET /v1/webhooks/default/secret`; the library refuses timestamps over 5 minutes off.
 * The secret is fetched once and kept; a signature it does not match fetches it once more (at
 * most every `retryMs`). Never throws: any problem is false.
 */
export function createReplicateVerifier(
  http: UpstreamClient,
  options: ReplicateVerifierOptions = {},
): (call: PushCall) => Promise<boolean> {
  const retryMs = options.retryMs ?? 30_000
  let webhook: Webhook | undefined
  let triedAt = Number.NEGATIVE_INFINITY
  let inFlight: Promise<void> | undefined

  const fetchSecret = async (): Promise<void> => {
    triedAt = Date.now()
    try {
      const signal = AbortSignal.timeout(10_000)
      const answer = await http.send('GET', '/v1/webhooks/default/secret', { signal, timeoutMs: 10_000 })
      const key = (answer.json as { key?: unknown } | undefined)?.key
      if (answer.status !== 200 || typeof key !== 'string' || !key.startsWith('whsec_')) return
      webhook = new Webhook(key)
    } catch {
      // Unreachable, or a secret the library cannot decode: the one we had (if any) stays.
    }
  }

  /** Fetches unless one ran within `retryMs`; concurrent callers share one fetch. */
  const refresh = async (): Promise<boolean> => {
    if (inFlight !== undefined) {
      await inFlight
      return true
    }
    if (Date.now() - triedAt < retryMs) return false
    inFlight = fetchSecret().finally(() => {
      inFlight = undefined
    })
    await inFlight
    return true
  }

  /** 'ok', 'signature' (no match: the secret may be stale) or 'refused' (headers, timestamp). */
  const check = (body: Buffer, headers: Record<string, string>): 'ok' | 'signature' | 'refused' => {
    if (!webhook) return 'signature'
    try {
      webhook.verify(body, headers, { jsonParse: false })
      return 'ok'
    } catch (error) {
      const unmatched = error instanceof WebhookVerificationError && /no matching signature/i.test(error.message)
      return unmatched ? 'signature' : 'refused'
    }
  }

  return async (call) => {
    try {
      const id = header(call.headers, 'webhook-id')
      const timestamp = header(call.headers, 'webhook-timestamp')
      const signature = header(call.headers, 'webhook-signature')
      if (!id || !timestamp || !signature) return false
      const headers = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature }
      if (!webhook) await refresh()
      const first = check(call.body, headers)
      if (first !== 'signature') return first === 'ok'
      return (await refresh()) && check(call.body, headers) === 'ok'
    } catch {
      return false
    }
  }
}
