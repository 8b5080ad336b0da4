import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { BlobStore } from '../../src/blobs/blob-store.js'
import { createFsBlobStore } from '../../src/blobs/fs/fs-blob-store.js'
import { createS3BlobStore } from '../../src/blobs/s3/s3-blob-store.js'
import { startS3 } from '../helpers/s3.js'
import { tempDir } from '../helpers/server.js'

const dirs: string[] = []
const dir = () => {
  const d = tempDir()
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
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
