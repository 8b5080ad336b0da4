import sharp from 'sharp'
import type { OutputFormat } from '../domain/job.js'
import type { EngineImage } from '../engines/engine.js'
import { checkWholePng, isPng } from './png-check.js'

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
}

export interface EncodedImage {
  data: Buffer
  width: number
  height: number
  format: OutputFormat
  contentType: string
}

/**
 * Encodes an engine's image in the requested format and size. An upstream file already in
 * that format and at the expected size is kept byte for byte (re-encoding a JPEG only loses
 * quality, and costs an encode) once it is shown whole: a PNG by its chunks' CRCs
 * (png-check.ts), another format by a decode to a thumbnail. A file of another size
 * is scaled to cover the expected size and cropped to it: the client asked for that size.
 */
export async function encodeImage(
  image: EngineImage,
  output: { format: OutputFormat; quality: number },
  expected?: { width: number; height: number },
): Promise<EncodedImage> {
  let input =
    image.kind === 'raw'
      ? sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
      : sharp(image.data, { failOn: 'error' })
  if (image.kind === 'encoded') {
    // A PNG (ComfyUI's, sd-server's) is checked whole by its chunks' CRCs: no decode to keep it.
    const whole = output.format === 'png' && isPng(image.data) ? checkWholePng(image.data) : undefined
    const meta = whole ? { format: 'png', ...whole } : await input.metadata()
    const sized = !expected || (meta.width === expected.width && meta.height === expected.height)
    if (meta.format === output.format && meta.width && meta.height && sized) {
      // A truncated or corrupt file fails here, not in a client's viewer. Decoding to a thumbnail
      // reads every byte, and JPEG's shrink-on-load makes it a fraction of a full decode.
      if (!whole) await sharp(image.data, { failOn: 'error' }).resize(64, 64, { fit: 'fill' }).raw().toBuffer()
      return {
        data: image.data,
        width: meta.width,
        height: meta.height,
        format: output.format,
        contentType: CONTENT_TYPES[output.format],
      }
    }
    if (!sized && expected) input = input.resize(expected.width, expected.height, { fit: 'cover' })
  }
  const quality = Math.min(100, Math.max(1, Math.round(output.quality)))
  const encoder =
    output.format === 'jpeg'
      ? input.jpeg({ quality })
      : output.format === 'webp'
        ? input.webp({ quality })
        : input.png()
  const { data, info } = await encoder.toBuffer({ resolveWithObject: true })
  return {
    data,
    width: info.width,
    height: info.height,
    format: output.format,
    contentType: CONTENT_TYPES[output.format],
  }
}
