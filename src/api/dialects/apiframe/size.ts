import { getModel, type ModelId } from '../../../domain/models.js'

/**
 * The seeds' named ratios, at the sizes fluxhost has always made them: near one megapixel,
 * both sides multiples of 32. Other ratios are computed by `ratioSize`.
 */
export const ASPECT_RATIOS: Readonly<Record<string, { width: number; height: number }>> = {
  '1:1': { width: 1024, height: 1024 },
  '3:4': { width: 864, height: 1152 },
  '4:3': { width: 1152, height: 864 },
  '9:16': { width: 768, height: 1344 },
  '16:9': { width: 1344, height: 768 },
}

const AREA = 1024 * 1024
/** Ratio terms above this are not a ratio anyone means (`99999:1`); the pattern bounds the length. */
const MAX_TERM = 10_000

export interface SizeChoice {
  width: number
  height: number
  /** Set when the size made is not the one asked for: what was asked and what is made instead. */
  warning?: string
}

/** `w × h` scaled and rounded to the nearest size the model makes (sides within its limits, multiples of 32). */
function fitSize(model: ModelId, w: number, h: number): { width: number; height: number } {
  const { min, max, multipleOf } = getModel(model).size
  let scale = 1
  if (Math.max(w, h) * scale > max) scale = max / Math.max(w, h)
  if (Math.min(w, h) * scale < min) scale = min / Math.min(w, h)
  const side = (value: number) => Math.min(max, Math.max(min, Math.round((value * scale) / multipleOf) * multipleOf))
  return { width: side(w), height: side(h) }
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))

/**
 * The size for an aspect ratio `W:H`: the seeds' table for its five ratios (`32:18` is `16:9`),
 * else about one megapixel at that ratio, fitted to the model's limits. Undefined when it is
 * not a ratio (a zero term, or a term over 10,000).
 */
export function ratioSize(model: ModelId, ratio: string): SizeChoice | undefined {
  const match = /^(\d+):(\d+)$/.exec(ratio)
  if (!match) return undefined
  const [w, h] = [Number(match[1]), Number(match[2])]
  if (!(w > 0 && h > 0 && w <= MAX_TERM && h <= MAX_TERM)) return undefined
  const d = gcd(w, h)
  const named = ASPECT_RATIOS[`${w / d}:${h / d}`]
  if (named) return { ...named }
  const size = fitSize(model, Math.sqrt((AREA * w) / h), Math.sqrt((AREA * h) / w))
  const made = size.width / size.height
  // Past the model's longest and shortest sides (1440 and 256) the ratio cannot be kept.
  const warning =
    Math.abs(Math.log(made / (w / h))) > 0.05
      ? `fluxParams.aspect_ratio: ${ratio} is beyond what ${getModel(model).name} makes; made ` +
        `${size.width}x${size.height} (${made.toFixed(2)}:1)`
      : undefined
  return { ...size, ...(warning ? { warning } : {}) }
}

/**
 * The size for `width` × `height` (either may be missing: the model's default side). Apiframe
 * takes 256–2048; a size the model cannot make (over 1440 px, or not a multiple of 32) is
 * made at the nearest size it can, with the same aspect ratio, and a warning says so.
 */
export function explicitSize(model: ModelId, width: number | undefined, height: number | undefined): SizeChoice {
  const spec = getModel(model).size
  const asked = { width: width ?? spec.defaultWidth, height: height ?? spec.defaultHeight }
  const makes = (side: number) => side >= spec.min && side <= spec.max && side % spec.multipleOf === 0
  if (makes(asked.width) && makes(asked.height)) return asked
  const size = fitSize(model, asked.width, asked.height)
  return {
    ...size,
    warning:
      `fluxParams.width/height: ${getModel(model).name} makes ${spec.min}–${spec.max} px a side in multiples of ` +
      `${spec.multipleOf}; ${asked.width}x${asked.height} is made as ${size.width}x${size.height}`,
  }
}
