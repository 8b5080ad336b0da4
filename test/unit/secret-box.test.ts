import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createSecretBox, SecretBoxError } from '../../src/blobs/secret-box.js'

const serverSecret = randomBytes(32)
const box = createSecretBox(serverSecret, 'webhook-secrets')
const SECRET = `whsec_${randomBytes(32).toString('base64')}`

/** `sealed` with one byte of its payload (IV, ciphertext or tag) flipped. */
function flipByte(sealed: string, at: number): string {
  const bytes = Buffer.from(sealed.slice('v1:'.length), 'base64url')
  bytes[at]! ^= 0x01
  return `v1:${bytes.toString('base64url')}`
}

describe('the secret box', () => {
  it('seals to versioned text that does not contain the secret, and opens it again', () => {
    const sealed = box.seal(SECRET, 'key_1')
    expect(sealed).toMatch(/^v1:[A-Za-z0-9_-]+$/)
    expect(sealed).not.toContain(SECRET)
    expect(sealed).not.toContain(SECRET.slice(6, 30))
    expect(box.isSealed(sealed)).toBe(true)
    expect(box.isSealed(SECRET)).toBe(false)
    expect(box.open(sealed, 'key_1')).toBe(SECRET)
    // A random IV each time: the same secret never seals to the same text.
    expect(box.seal(SECRET, 'key_1')).not.toBe(sealed)
    // Another box on the same server secret and purpose (another process, a restart) opens it.
    expect(createSecretBox(Buffer.from(serverSecret), 'webhook-secrets').open(sealed, 'key_1')).toBe(SECRET)
    expect(box.open(box.seal('', 'x'), 'x')).toBe('')
    expect(box.open(box.seal('ünïcode ✓', 'x'), 'x')).toBe('ünïcode ✓')
  })

  it('throws on a tampered value, wherever the change is', () => {
    const sealed = box.seal(SECRET, 'key_1')
    const length = Buffer.from(sealed.slice(3), 'base64url').length
    for (const at of [0, 11, 12, 20, length - 16, length - 1]) {
      expect(() => box.open(flipByte(sealed, at), 'key_1')).toThrow(SecretBoxError)
    }
    expect(() => box.open(sealed.slice(0, -4), 'key_1')).toThrow(SecretBoxError)
    expect(() => box.open('v1:', 'key_1')).toThrow(/malformed/)
    expect(() => box.open('v1:not base64!', 'key_1')).toThrow(/malformed/)
    expect(() => box.open(`v2:${sealed.slice(3)}`, 'key_1')).toThrow(/v2/)
    expect(() => box.open(SECRET, 'key_1')).toThrow(/clear-text/)
  })

  it('throws with the wrong key: another server secret, another purpose, or another row', () => {
    const sealed = box.seal(SECRET, 'key_1')
    expect(() => createSecretBox(randomBytes(32), 'webhook-secrets').open(sealed, 'key_1')).toThrow(
      /altered, or sealed under another server secret/,
    )
    expect(() => createSecretBox(serverSecret, 'something-else').open(sealed, 'key_1')).toThrow(SecretBoxError)
    // Copied onto another key's row, it does not open there.
    expect(() => box.open(sealed, 'key_2')).toThrow(SecretBoxError)
  })

  it('refuses a server secret too short to derive a key from', () => {
    expect(() => createSecretBox(Buffer.alloc(4), 'webhook-secrets')).toThrow(/too short/)
  })
})
