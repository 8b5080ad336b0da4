import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isValidKey } from '../../src/blobs/blob-store.js'
import { createFsBlobStore } from '../../src/blobs/fs/fs-blob-store.js'
import { loadOrCreateSecret } from '../../src/blobs/server-secret.js'
import { createUrlSigner } from '../../src/blobs/url-signer.js'
import { tempDir, testClock } from '../helpers/server.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})
const dir = () => {
  const d = tempDir()
  dirs.push(d)
  return d
}

describe('blob keys', () => {
  it('accepts only relative paths of safe segments', () => {
    expect(isValidKey('jobs/0190-abc/a1/0.jpeg')).toBe(true)
    for (const bad of [
      '',
      '/etc/passwd',
      '../secret',
      'jobs/../../secret',
      'jobs/./x',
      'jobs//x',
      'a\\b',
      'jobs/%2e%2e/x',
      '.hidden',
      'a/b/c/d/e/f/g/h/i',
    ]) {
      expect(isValidKey(bad), bad).toBe(false)
    }
  })
})

describe('fs blob store', () => {
  it('cannot read or write outside its root', async () => {
    const root = dir()
    fs.writeFileSync(path.join(root, '..', `outside-${path.basename(root)}`), 'secret')
    const store = createFsBlobStore(path.join(root, 'blobs'))
    expect(await store.read(`../outside-${path.basename(root)}`)).toBeUndefined()
    await expect(store.put('../escape', Buffer.from('x'), 'text/plain')).rejects.toThrow(/invalid blob key/)
    fs.rmSync(path.join(root, '..', `outside-${path.basename(root)}`))
  })

  it('leaves no temporary files behind', async () => {
    const root = dir()
    const store = createFsBlobStore(root)
    await store.put('jobs/j/a1/0.jpeg', Buffer.alloc(1000), 'image/jpeg')
    expect(fs.readdirSync(path.join(root, 'jobs/j/a1'))).toEqual(['0.jpeg'])
  })
})

describe('url signer', () => {
  it('accepts its own signatures until they expire', () => {
    const clock = testClock()
    const signer = createUrlSigner(Buffer.alloc(32, 7), clock, 3600)
    const { exp, sig } = signer.sign('jobs/x/a1/0.jpeg')
    expect(signer.verify('jobs/x/a1/0.jpeg', String(exp), sig)).toBe('ok')
    expect(signer.verify('jobs/y/a1/0.jpeg', String(exp), sig)).toBe('invalid')
    expect(signer.verify('jobs/x/a1/0.jpeg', String(exp + 1), sig)).toBe('invalid')
    expect(signer.verify('jobs/x/a1/0.jpeg', String(exp), undefined)).toBe('invalid')
    clock.advance(3661_000)
    expect(signer.verify('jobs/x/a1/0.jpeg', String(exp), sig)).toBe('expired')
  })

  it('differs per secret', () => {
    const clock = testClock()
    const a = createUrlSigner(Buffer.alloc(32, 1), clock, 60)
    const b = createUrlSigner(Buffer.alloc(32, 2), clock, 60)
    const { exp, sig } = a.sign('k')
    expect(b.verify('k', String(exp), sig)).toBe('invalid')
  })
})

describe('server secret', () => {
  it('is created once with mode 0600 and then reused', () => {
    const file = path.join(dir(), 'secret')
    const first = loadOrCreateSecret(file)
    expect(first).toHaveLength(32)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(loadOrCreateSecret(file).equals(first)).toBe(true)
  })
})
