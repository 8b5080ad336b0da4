import type { SizeLimits } from '../../../domain/models.js'

/**
 * The size to make for an OpenAI `size` larger than the model allows (OpenAI's standard
 * 1536x1024, 1024x1536, 1792x1024, 1024x1792, or a newer model's free size up to 3840x2160):
 * the pair within the model's range and multiple whose aspect ratio is nearest the one
 * asked for, the largest such. 1536x1024 → 1440x960, 1792x1024 → 1344x768 (both exact).
 * Undefined when the size fits (it is then taken as asked, and checked) or nothing does.
 */
export function nearestSize(
  limits: SizeLimits,
  width: number,
  height: number,
): { width: number; height: number } | undefined {
  if ((width <= limits.max && height <= limits.max) || width <= 0 || height <= 0) return undefined
  const step = limits.multipleOf
  const ratio = Math.log(width / height)
  let best: { width: number; height: number } | undefined
  let bestError = Number.POSITIVE_INFINITY
  for (let w = Math.floor(limits.max / step) * step; w >= limits.min; w -= step) {
    const h = Math.round((w * height) / width / step) * step
    if (h < limits.min || h > limits.max) continue
    const error = Math.abs(Math.log(w / h) - ratio)
    // Widest first: a later (smaller) pair must be strictly nearer to win.
    if (error < bestError - 1e-9) {
      best = { width: w, height: h }
      bestError = error
    }
  }
  return best
}
