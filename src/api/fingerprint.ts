import { createHash, webcrypto } from 'node:crypto'
import type { FastifyRequest } from 'fastify'

/** A value still to be written, on `canonicalJson`'s stack (a bare string there is output). */
class Pending {
  constructor(readonly value: unknown) {}
}

/**
 * JSON with object keys sorted, so the same body fingerprints the same whatever its key
 * order. Iterative (an explicit stack): no recursion whose depth the client chooses. Strings
 * go through the native JSON.stringify, so a 25 MB base64 field costs one native call.
 */
export function canonicalJson(root: unknown, longStrings?: string[]): string {
  const out: string[] = []
  const stack: (string | Pending)[] = [new Pending(root)]
  while (stack.length > 0) {
    const item = stack.pop()!
    if (typeof item === 'string') {
      out.push(item)
      continue
    }
    const value = item.value
    if (Array.isArray(value)) {
      out.push('[')
      stack.push(']')
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push(new Pending(value[i]))
        if (i > 0) stack.push(',')
      }
    } else if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>
      const keys = Object.keys(record).sort()
      out.push('{')
      stack.push('}')
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push(new Pending(record[keys[i]!]))
        stack.push(`${JSON.stringify(keys[i])}:`)
        if (i > 0) stack.push(',')
      }
    } else if (longStrings && typeof value === 'string' && value.length > LONG_STRING) {
      // JSON never holds a raw control character, so this mark cannot be forged by a body.
      out.push(`\u0001${longStrings.push(value) - 1}\u0001`)
    } else {
      out.push(JSON.stringify(value) ?? 'null')
    }
  }
  return out.join('')
}

/** Strings longer than this (a base64 image) are hashed apart, not escaped into the canonical text. */
const LONG_STRING = 64 * 1024

/** Texts up to this long are hashed at once on the event loop (~0.1 ms), longer ones off it. */
const SYNC_HASH = 64 * 1024

const sha256 = async (text: string) =>
  text.length <= SYNC_HASH
    ? createHash('sha256').update(text).digest('base64url')
    : Buffer.from(await webcrypto.subtle.digest('SHA-256', Buffer.from(text))).toString('base64url')

/**
 * The request's fingerprint: SHA-256 of its canonical form, with each long string (an
 * inline image) replaced by its own SHA-256. A long text is hashed off the event loop
 * (WebCrypto); a short one at once, which costs less than the thread pool's round trip.
 */
export async function fingerprint(request: FastifyRequest): Promise<string> {
  const simulate = request.headers['x-fluxhost-simulate'] ?? null
  const route = request.routeOptions.url ?? request.url
  const longStrings: string[] = []
  const text = canonicalJson({ method: request.method, route, body: request.body ?? null, simulate }, longStrings)
  if (longStrings.length === 0) return sha256(text)
  return sha256([text, ...(await Promise.all(longStrings.map(sha256)))].join('\n'))
}
