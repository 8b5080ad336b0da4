import sharp from 'sharp'
import type { BlobStore } from '../blobs/blob-store.js'

/**
 * Small renditions of stored images, for galleries: WebP inside a 512 px box (sharp enough
 * for a 250 px card on a 2x screen). A thumbnail is `<image key>.thumb.webp`, made on the
 * first request and then kept beside its image, so it is signed, served, redirected to the
 * bucket and deleted with the job exactly like the image itself. Jobs do not pay for it:
 * only an image someone lists in a gallery gets one.
 */
export const THUMBNAIL_BOX = 512
const SUFFIX = '.thumb.webp'

export function thumbnailKey(imageKey: string): string {
  return `${imageKey}${SUFFIX}`
}

/** The image a thumbnail key stands for, or undefined when `key` is not a thumbnail's. */
export function thumbnailSource(key: string): string | undefined {
  return key.endsWith(SUFFIX) && key.length > SUFFIX.length ? key.slice(0, -SUFFIX.length) : undefined
}

export async function renderThumbnail(image: Buffer): Promise<Buffer> {
  return sharp(image)
    .rotate()
    .resize(THUMBNAIL_BOX, THUMBNAIL_BOX, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 75 })
    .toBuffer()
}

/**
 * Makes thumbnails on demand. `ensure(key)` leaves the thumbnail `key` in the store when its
 * image exists (true), or answers false; concurrent requests for one thumbnail in this
 * process share one rendering (a gallery asks for a dozen at once, and again on reload).
 */
export class Thumbnails {
  readonly #blobs: BlobStore
  readonly #making = new Map<string, Promise<boolean>>()

  constructor(blobs: BlobStore) {
    this.#blobs = blobs
  }

  async ensure(key: string): Promise<boolean> {
    const source = thumbnailSource(key)
    if (source === undefined) return false
    if (await this.#blobs.stat(key)) return true
    let making = this.#making.get(key)
    if (!making) {
      making = this.#make(key, source).finally(() => this.#making.delete(key))
      this.#making.set(key, making)
    }
    return making
  }

  async #make(key: string, source: string): Promise<boolean> {
    const image = await this.#blobs.read(source)
    if (!image) return false
    await this.#blobs.put(key, await renderThumbnail(image), 'image/webp')
    // The job may have been deleted while we rendered: leave no thumbnail of a deleted image.
    if (!(await this.#blobs.stat(source))) {
      await this.#blobs.delete(key)
      return false
    }
    return true
  }
}
