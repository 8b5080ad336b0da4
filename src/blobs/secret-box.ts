import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16

/** A value opened with the wrong key, altered, or in a format this version does not read. */
export class SecretBoxError extends Error {
  override name = 'SecretBoxError'
}

/**
 * Seals short secrets for keeping in the records: AES-256-GCM under a key derived (HKDF-SHA256)
 * from the server secret and a purpose label, so each use of the server secret has its own key.
 * A sealed value is text: `v1:` + base64url(12-byte random IV | ciphertext | 16-byte tag).
 * `context` (e.g. the row's id) is authenticated too: a value moved to another row does not open.
 */
export interface SecretBox {
  seal(plain: string, context?: string): string
  /** The plain text; throws SecretBoxError when the value was not sealed by this key for `context`. */
  open(sealed: string, context?: string): string
  /** Whether `stored` is a sealed value (else it is clear text, from before sealing). */
  isSealed(stored: string): boolean
}

export function createSecretBox(serverSecret: Buffer, purpose: string): SecretBox {
  if (serverSecret.length < 16) throw new Error('the server secret is too short to derive keys from')
  const key = Buffer.from(hkdfSync('sha256', serverSecret, 'fluxhost secret-box', `fluxhost/${purpose}`, 32))
  const aad = (context: string) => Buffer.from(`${VERSION}\n${purpose}\n${context}`, 'utf8')

  return {
    seal(plain, context = '') {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
      cipher.setAAD(aad(context))
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return `${VERSION}:${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`
    },

    open(sealed, context = '') {
      const [version, payload] = splitVersion(sealed)
      if (version !== VERSION) throw new SecretBoxError(`cannot open a ${version ?? 'clear-text'} value (expected v1)`)
      const bytes = Buffer.from(payload, 'base64url')
      if (bytes.length < IV_BYTES + TAG_BYTES || bytes.toString('base64url') !== payload) {
        throw new SecretBoxError('the sealed value is malformed')
      }
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      })
      decipher.setAAD(aad(context))
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
      try {
        const body = bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8')
      } catch {
        throw new SecretBoxError(
          `the sealed value does not open with this server's key (${purpose}): it was altered, or sealed ` +
            'under another server secret',
        )
      }
    },

    isSealed: (stored) => splitVersion(stored)[0] !== undefined,
  }
}

/** `v<n>:payload` → [`v<n>`, payload]; anything else → [undefined, the whole text]. */
function splitVersion(text: string): [string | undefined, string] {
  const match = /^(v[0-9]+):(.*)$/s.exec(text)
  return match ? [match[1], match[2]!] : [undefined, text]
}
