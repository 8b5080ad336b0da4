import sharp from 'sharp'
import type { OutputFormat } from '../domain/job.js'
import type { EngineImage } from '../engines/engine.js'

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
 * Encodes an engine's image in the requested format. An upstream file already in that
 * format is kept byte for byte (re-encoding a JPEG only loses quality).
 */
export async function encodeImage(
  image: EngineImage,
  output: { format: OutputFormat; quality: number },
): Promise<EncodedImage> {
  const input =
    image.kind === 'raw'
      ? sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
      : sharp(image.data)
  if (image.kind === 'encoded') {
    const meta = await input.metadata()
    if (meta.format === output.format && meta.width && meta.height) {
      return {
        data: image.data,
        width: meta.width,
        height: meta.height,
        format: output.format,
        contentType: CONTENT_TYPES[output.format],
      }
    }
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
