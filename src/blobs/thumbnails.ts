import { renderThumbnail } from '../images/thumbnail.js'
import type { BlobStore } from './blob-store.js'
import { blobKeys } from './keys.js'

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
    const source = blobKeys.thumbnailSource(key)
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
