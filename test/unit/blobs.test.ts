import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isValidKey } from '../../src/blobs/blob-store.js'
import type { BlobStore } from '../../src/blobs/blob-store.js'
import { createFsBlobStore } from '../../src/blobs/fs/fs-blob-store.js'
import { createS3BlobStore } from '../../src/blobs/s3/s3-blob-store.js'
import { startS3 } from '../helpers/s3.js'
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

// The same contract from every BlobStore: files on disk, and an S3 bucket (s3rver).
describe.each([
  ['fs', async () => ({ store: createFsBlobStore(dir()) as BlobStore, close: async () => {} })],
  [
    's3',
    async () => {
      const s3 = await startS3()
      const store = createS3BlobStore({
        bucket: s3.bucket,
        prefix: 'fluxhost/',
        endpoint: s3.endpoint,
        credentials: s3.credentials,
      })
      return {
        store: store as BlobStore,
        s3,
        close: async () => {
          store.close()
          await s3.close()
        },
      }
    },
  ],
] as const)('%s blob store', (_kind, open) => {
  let t: Awaited<ReturnType<typeof open>>
  afterEach(async () => t?.close())

  it('round-trips, streams, stats and deletes by prefix', async () => {
    t = await open()
    const store = t.store
    await store.put('jobs/j1/a1/0.png', Buffer.from('png-bytes'), 'image/png')
    await store.put('jobs/j1/a1/1.png', Buffer.from('more'), 'image/png')
    await store.put('jobs/j10/a1/0.png', Buffer.from('a neighbour, not under jobs/j1/'), 'image/png')
    expect((await store.read('jobs/j1/a1/0.png'))?.toString()).toBe('png-bytes')
    expect(await store.stat('jobs/j1/a1/0.png')).toEqual({ size: 9, contentType: 'image/png' })
    const streamed = await store.stream('jobs/j1/a1/1.png')
    expect(streamed?.info).toEqual({ size: 4, contentType: 'image/png' })
    const chunks: Buffer[] = []
    for await (const chunk of streamed!.body) chunks.push(Buffer.from(chunk))
    expect(Buffer.concat(chunks).toString()).toBe('more')
    await store.deletePrefix('jobs/j1')
    expect(await store.read('jobs/j1/a1/1.png')).toBeUndefined()
    expect(await store.stream('jobs/j1/a1/0.png')).toBeUndefined()
    expect(await store.stat('jobs/j1/a1/0.png')).toBeUndefined()
    expect((await store.read('jobs/j10/a1/0.png'))?.toString()).toMatch(/neighbour/)
    await store.delete('jobs/j10/a1/0.png')
    expect(await store.read('jobs/j10/a1/0.png')).toBeUndefined()
    await store.delete('jobs/never/was.png') // deleting what is not there is fine
  })

  it('refuses keys outside the rules, reading none and writing none', async () => {
    t = await open()
    await expect(t.store.put('../escape', Buffer.from('x'), 'text/plain')).rejects.toThrow(/invalid blob key/)
    expect(await t.store.read('../escape')).toBeUndefined()
    expect(await t.store.stat('jobs/../x')).toBeUndefined()
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
