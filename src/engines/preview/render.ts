import type { Rgb } from './palette.js'

/** FNV-1a over UTF-8: a stable 32-bit hash of a prompt. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** mulberry32: a small, fast, well-mixed PRNG; the same seed gives the same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Folds any safe integer (negative or above 2^32) into 32 bits without losing the high part. */
export function seed32(seed: number): number {
  const low = seed >>> 0
  const high = Math.floor(seed / 4294967296) >>> 0
  return (low ^ Math.imul(high, 0x9e3779b1)) >>> 0
}

interface Blob {
  cx: number
  cy: number
  r: number
  colour: Rgb
  opacity: number
}

/** The picture, independent of size: positions are fractions of the frame. */
export interface Scene {
  top: Rgb
  bottom: Rgb
  blobs: Blob[]
  waveFrequency: number
  wavePhase: number
  grainSeed: number
}

/** The composition comes from the seed; the palette from the prompt. */
export function composeScene(palette: readonly Rgb[], seed: number, promptHash: number): Scene {
  const random = prng(seed32(seed) ^ 0x5bd1e995)
  const pick = () => palette[Math.floor(random() * palette.length)]!
  const count = 4 + Math.floor(random() * 6)
  const blobs: Blob[] = []
  for (let i = 0; i < count; i++) {
    blobs.push({
      cx: random(),
      cy: random(),
      r: 0.08 + random() * 0.3,
      colour: palette[(i + 2) % palette.length] ?? pick(),
      opacity: 0.55 + random() * 0.4,
    })
  }
  return {
    top: palette[0]!,
    bottom: palette[1 % palette.length]!,
    blobs,
    waveFrequency: 2 + (promptHash % 7),
    wavePhase: random() * Math.PI * 2,
    grainSeed: seed32(seed) ^ promptHash,
  }
}

/**
 * Paints rows [y0, y1) of the scene into an RGB buffer of the full image. Rendering in
 * bands lets the engine report progress and notice cancellation between them.
 *
 * Per row: fill with the gradient, then lay each blob over only the span of pixels it
 * covers (in scene order, so overlaps blend the same as a per-pixel loop would), then add
 * grain. Working on spans instead of testing every blob at every pixel is ~4× faster.
 */
export function renderRows(scene: Scene, width: number, height: number, y0: number, y1: number, out: Buffer): void {
  const scale = Math.min(width, height)
  const blobs = scene.blobs.map((b) => ({
    cx: b.cx * width,
    cy: b.cy * height,
    r: b.r * scale,
    colour: b.colour,
    opacity: b.opacity,
  }))
  // A clamped view rounds and clamps on store, in the engine instead of in JS.
  const pixels = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length)
  const red = new Float64Array(width)
  const green = new Float64Array(width)
  const blue = new Float64Array(width)
  for (let y = y0; y < y1; y++) {
    const t = height > 1 ? y / (height - 1) : 0
    const wave = 0.06 * Math.sin(t * scene.waveFrequency * Math.PI + scene.wavePhase)
    const mix = Math.min(1, Math.max(0, t + wave))
    red.fill(scene.top[0] + (scene.bottom[0] - scene.top[0]) * mix)
    green.fill(scene.top[1] + (scene.bottom[1] - scene.top[1]) * mix)
    blue.fill(scene.top[2] + (scene.bottom[2] - scene.top[2]) * mix)
    for (const blob of blobs) {
      const dy = y - blob.cy
      const r2 = blob.r * blob.r
      if (dy * dy >= r2) continue
      const half = Math.sqrt(r2 - dy * dy)
      const from = Math.max(0, Math.ceil(blob.cx - half))
      const to = Math.min(width - 1, Math.floor(blob.cx + half))
      const [cr, cg, cb] = blob.colour
      for (let x = from; x <= to; x++) {
        const dx = x - blob.cx
        const d2 = (dx * dx + dy * dy) / r2
        if (d2 >= 1) continue
        // Soft edge: full colour in the middle, fading out over the outer 40 %.
        const edge = Math.min(1, (1 - Math.sqrt(d2)) / 0.4)
        const a = edge * edge * (3 - 2 * edge) * blob.opacity
        red[x]! += (cr - red[x]!) * a
        green[x]! += (cg - green[x]!) * a
        blue[x]! += (cb - blue[x]!) * a
      }
    }
    let offset = y * width * 3
    const rowSeed = Math.imul(y + 1, 0x165667b1) ^ scene.grainSeed
    for (let x = 0; x < width; x++) {
      let h = Math.imul(x + 1, 0x27d4eb2d) ^ rowSeed
      h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)
      const grain = ((h >>> 24) - 128) / 32
      pixels[offset] = red[x]! + grain
      pixels[offset + 1] = green[x]! + grain
      pixels[offset + 2] = blue[x]! + grain
      offset += 3
    }
  }
}
