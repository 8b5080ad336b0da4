import { createHmac, randomBytes } from 'node:crypto'

/** A signing secret in Replicate's shape: `whsec_` and base64 key bytes. */
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`

/**
 * Standard Webhooks signing as reference/providers.md §3 describes Replicate's (written here
 * from that description, not with the library fluxhost verifies with): HMAC-SHA256 keyed with
 * the base64-decoded part after `whsec_`, over `${id}.${timestamp}.${rawBody}`, sent as
 * `webhook-signature: v1,<base64>`.
 */
export function standardWebhookHeaders(
  secret: string,
  id: string,
  body: Buffer,
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body])
  const signature = createHmac('sha256', key).update(signed).digest('base64')
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` }
}
