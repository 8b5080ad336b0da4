import sharp, { type Metadata } from 'sharp'

export const INPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif'] as const
export const MAX_INPUT_BYTES = 20 * 1024 * 1024
export const MAX_INPUT_SIDE = 4096

export type ProbeResult =
  | { ok: true; format: (typeof INPUT_FORMATS)[number]; width: number; height: number }
  | { ok: false; reason: string }

/** Checks that bytes are an image fluxhost accepts as an input, without decoding pixels. */
export async function probeInputImage(data: Buffer): Promise<ProbeResult> {
  if (data.length === 0) return { ok: false, reason: 'the image is empty' }
  if (data.length > MAX_INPUT_BYTES)
    return { ok: false, reason: `the image is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MB` }
  let meta: Metadata
  try {
    meta = await sharp(data).metadata()
  } catch {
    return { ok: false, reason: 'the data is not a readable image' }
  }
  const format = meta.format as string | undefined
  if (!format || !(INPUT_FORMATS as readonly string[]).includes(format)) {
    return { ok: false, reason: `unsupported image format '${format ?? 'unknown'}'; use jpeg, png, webp or gif` }
  }
  if (!meta.width || !meta.height) return { ok: false, reason: 'the image has no size' }
  if (meta.width > MAX_INPUT_SIDE || meta.height > MAX_INPUT_SIDE) {
    return { ok: false, reason: `the image is ${meta.width}×${meta.height}; at most ${MAX_INPUT_SIDE} px a side` }
  }
  return { ok: true, format: format as (typeof INPUT_FORMATS)[number], width: meta.width, height: meta.height }
}
