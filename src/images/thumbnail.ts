import sharp from 'sharp'

/**
 * Small renditions of stored images, for galleries: WebP inside a 512 px box (sharp enough
 * for a 250 px card on a 2x screen). A thumbnail (blobs/keys.ts) is made on the
 * first request and then kept beside its image, so it is signed, served, redirected to the
 * bucket and deleted with the job exactly like the image itself. Jobs do not pay for it:
 * only an image someone lists in a gallery gets one.
 */
export const THUMBNAIL_BOX = 512

export async function renderThumbnail(image: Buffer): Promise<Buffer> {
  return sharp(image)
    .rotate()
    .resize(THUMBNAIL_BOX, THUMBNAIL_BOX, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 75 })
    .toBuffer()
}
