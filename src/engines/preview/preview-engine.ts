import sharp from 'sharp'
import { ENGINE_MODELS } from '../../domain/engines.js'
import type { EngineImage, ImageEngine } from '../engine.js'
import { abortableDelay, EngineError, throwIfAborted } from '../engine-error.js'
import { paletteFor } from './palette.js'
import { composeScene, hashString, renderRows, seed32 } from './render.js'

export interface PreviewEngineOptions {
  /** Progress steps per image. */
  steps: number
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * The offline engine: deterministic pictures in milliseconds, no GPU, no network.
 * Colour words in the prompt choose the palette, the seed the composition, the size the
 * frame, and an image prompt shows through by its strength. It also honours the
 * `X-Fluxhost-Simulate` failure modes so clients can test their error handling. Its renders
 * skip the output classifier unless they show an image prompt (safety/checker.ts), so a
 * moderated outcome comes only from `content_moderated`, which it raises itself.
 */
export function createPreviewEngine(options: PreviewEngineOptions): ImageEngine {
  return {
    name: 'preview',
    local: true,
    check: async () => ({ reachable: true, detail: 'built in' }),
    supports: (model) => ENGINE_MODELS.preview.includes(model),
    async generate(task, ctx) {
      const simulate = task.simulate ?? {}
      throwIfAborted(ctx.signal)
      if (simulate.fail === 'request_moderated') {
        throw new EngineError('request_moderated', 'simulated: the prompt was flagged (X-Fluxhost-Simulate)')
      }
      const { width, height, numImages } = task
      const promptHash = hashString(task.prompt)
      const palette = paletteFor(task.prompt, promptHash)
      const guide = task.imagePrompt ? await decodeGuide(task.imagePrompt.data, width, height) : undefined
      const strength = task.imagePrompt?.strength ?? 0

      const steps = Math.min(options.steps, height)
      const totalSteps = steps * numImages
      const stepDelayMs = (simulate.slowMs ?? 0) / totalSteps
      let done = 0
      const images: EngineImage[] = []
      for (let i = 0; i < numImages; i++) {
        const scene = composeScene(palette, seed32(task.seed) + i, promptHash)
        const pixels = Buffer.alloc(width * height * 3)
        for (let step = 0; step < steps; step++) {
          const y0 = Math.floor((step * height) / steps)
          const y1 = Math.floor(((step + 1) * height) / steps)
          renderRows(scene, width, height, y0, y1, pixels)
          if (guide) blendRows(pixels, guide, strength, y0 * width * 3, y1 * width * 3)
          done++
          ctx.progress(done / totalSteps)
          if (simulate.fail === 'error' && done * 2 >= totalSteps) {
            throw new EngineError('failed', 'simulated: the upstream engine failed (X-Fluxhost-Simulate)')
          }
          // Yield between bands so the event loop serves requests and sees a cancel.
          if (stepDelayMs > 0) await abortableDelay(stepDelayMs, ctx.signal)
          else await nextTick()
          throwIfAborted(ctx.signal)
        }
        images.push({ kind: 'raw', data: pixels, width, height, channels: 3 })
      }
      if (simulate.fail === 'content_moderated') {
        throw new EngineError('content_moderated', 'simulated: the output was flagged (X-Fluxhost-Simulate)')
      }
      return { images }
    },
  }
}

async function decodeGuide(data: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(data).rotate().removeAlpha().resize(width, height, { fit: 'cover' }).raw().toBuffer()
}

function blendRows(pixels: Buffer, guide: Buffer, strength: number, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    pixels[i] = Math.round(pixels[i]! * (1 - strength) + guide[i]! * strength)
  }
}
