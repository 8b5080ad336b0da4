import fs from 'node:fs'
import sharp from 'sharp'
import { afterEach, describe, expect, it } from 'vitest'
import type { BlobStore } from '../../src/blobs/blob-store.js'
import { createFsBlobStore } from '../../src/blobs/fs/fs-blob-store.js'
import { blobKeys } from '../../src/blobs/keys.js'
import { Thumbnails } from '../../src/blobs/thumbnails.js'

const thumbnailKey = blobKeys.thumbnail
const thumbnailSource = blobKeys.thumbnailSource

import { tempDir } from '../helpers/server.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** A disk store that counts writes and can run a hook after each one. */
function countingStore() {
  const d = tempDir()
  dirs.push(d)
  const inner = createFsBlobStore(d)
  const puts: string[] = []
  let afterPut: (key: string) => Promise<void> = async () => {}
  const store: BlobStore = {
    ...inner,
    async put(key, data, contentType) {
      await inner.put(key, data, contentType)
      puts.push(key)
      await afterPut(key)
    },
  }
  return { store, puts, setAfterPut: (f: typeof afterPut) => (afterPut = f) }
}

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#3a6' } })
    .png()
    .toBuffer()

describe('thumbnails', () => {
  it('name their image and nothing else', () => {
    expect(thumbnailKey('jobs/x/a1/0.jpeg')).toBe('jobs/x/a1/0.jpeg.thumb.webp')
    expect(thumbnailSource('jobs/x/a1/0.jpeg.thumb.webp')).toBe('jobs/x/a1/0.jpeg')
    expect(thumbnailSource('jobs/x/a1/0.jpeg')).toBeUndefined()
    expect(thumbnailSource('.thumb.webp')).toBeUndefined()
  })

  it('are made once for concurrent requests, kept, and never larger than the image', async () => {
    const { store, puts } = countingStore()
    await store.put('jobs/a/a1/0.png', await png(1024, 768), 'image/png')
    await store.put('jobs/a/a1/1.png', await png(300, 200), 'image/png')
    puts.length = 0
    const thumbnails = new Thumbnails(store)
    const key = thumbnailKey('jobs/a/a1/0.png')
    expect(await Promise.all([1, 2, 3, 4].map(() => thumbnails.ensure(key)))).toEqual([true, true, true, true])
    expect(await thumbnails.ensure(key)).toBe(true)
    expect(puts).toEqual([key])
    const big = await sharp(await store.read(key)).metadata()
    expect([big.format, big.width, big.height]).toEqual(['webp', 512, 384])
    expect(await thumbnails.ensure(thumbnailKey('jobs/a/a1/1.png'))).toBe(true)
    const small = await sharp(await store.read(thumbnailKey('jobs/a/a1/1.png'))).metadata()
    expect([small.width, small.height]).toEqual([300, 200])
  })

  it(
    'are not made for a missing image or a key that is not a thumbnail, ' +
      'and leave nothing of an image deleted meanwhile',
    async () => {
      const { store, puts, setAfterPut } = countingStore()
      const thumbnails = new Thumbnails(store)
      expect(await thumbnails.ensure(thumbnailKey('jobs/none/a1/0.png'))).toBe(false)
      expect(await thumbnails.ensure('jobs/none/a1/0.png')).toBe(false)
      expect(puts).toEqual([])

      // The job is deleted while its thumbnail renders (here: just as it is written).
      const key = thumbnailKey('jobs/b/a1/0.png')
      await store.put('jobs/b/a1/0.png', await png(640, 640), 'image/png')
      setAfterPut(async (k) => {
        if (k === key) await store.delete('jobs/b/a1/0.png')
      })
      expect(await thumbnails.ensure(key)).toBe(false)
      expect(await store.stat(key)).toBeUndefined()
    },
  )
})
