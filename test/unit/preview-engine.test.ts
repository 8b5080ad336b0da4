import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import type { EngineTask } from '../../src/engines/engine.js'
import { EngineError } from '../../src/engines/engine-error.js'
import { createPreviewEngine } from '../../src/engines/preview/preview-engine.js'
import { encodeImage } from '../../src/images/encode.js'

const engine = createPreviewEngine({ steps: 8 })

const task = (overrides: Partial<EngineTask> = {}): EngineTask => ({
  jobId: 'j',
  model: 'flux-pro-1.1',
  prompt: 'a quiet harbour',
  width: 256,
  height: 256,
  seed: 42,
  numImages: 1,
  promptUpsampling: false,
  raw: false,
  safetyTolerance: 2,
  output: { format: 'png', quality: 90 },
  ...overrides,
})

async function render(overrides: Partial<EngineTask> = {}, progress: number[] = []) {
  const t = task(overrides)
  const output = await engine.generate(t, { signal: new AbortController().signal, progress: (p) => progress.push(p) })
  return Promise.all(output.images.map((image) => encodeImage(image, t.output)))
}

async function meanColour(data: Buffer) {
  const { channels } = await sharp(data).stats()
  return channels.slice(0, 3).map((c) => c.mean)
}

describe('preview engine', () => {
  it('is deterministic: same prompt, seed, size and format give the same bytes', async () => {
    const [a] = await render({ output: { format: 'jpeg', quality: 80 } })
    const [b] = await render({ output: { format: 'jpeg', quality: 80 } })
    expect(a!.data.equals(b!.data)).toBe(true)
  })

  it('changes the picture with the seed, the prompt and the size', async () => {
    const [base] = await render()
    const [otherSeed] = await render({ seed: 43 })
    const [otherPrompt] = await render({ prompt: 'a loud harbour' })
    const [otherSize] = await render({ width: 512 })
    expect(base!.data.equals(otherSeed!.data)).toBe(false)
    expect(base!.data.equals(otherPrompt!.data)).toBe(false)
    expect(otherSize).toMatchObject({ width: 512, height: 256 })
  })

  it('takes its palette from colour words in the prompt', async () => {
    const [red] = await render({ prompt: 'red crimson scarlet' })
    const [blue] = await render({ prompt: 'blue navy azure' })
    const [r1, , b1] = await meanColour(red!.data)
    const [r2, , b2] = await meanColour(blue!.data)
    expect(r1!).toBeGreaterThan(b1! + 60)
    expect(b2!).toBeGreaterThan(r2! + 60)
  })

  it('makes numImages distinct images and reports progress in rising steps to 1', async () => {
    const progress: number[] = []
    const images = await render({ numImages: 2 }, progress)
    expect(images).toHaveLength(2)
    expect(images[0]!.data.equals(images[1]!.data)).toBe(false)
    expect(progress).toHaveLength(16)
    expect(progress.at(-1)).toBe(1)
    expect([...progress].sort((a, b) => a - b)).toEqual(progress)
  })

  it('shows an image prompt through by its strength', async () => {
    const white = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer()
    const [plain] = await render({ prompt: 'black night' })
    const [guided] = await render({ prompt: 'black night', imagePrompt: { data: white, strength: 0.8 } })
    const [dark] = await meanColour(plain!.data)
    const [light] = await meanColour(guided!.data)
    expect(light!).toBeGreaterThan(dark! + 120)
  })

  it('stops mid-run when the signal aborts', async () => {
    const controller = new AbortController()
    const seen: number[] = []
    const run = engine.generate(task({ simulate: { slowMs: 2_000 } }), {
      signal: controller.signal,
      progress(p) {
        seen.push(p)
        if (seen.length === 2) controller.abort('test')
      },
    })
    await expect(run).rejects.toMatchObject({ kind: 'canceled' })
    expect(seen).toHaveLength(2)
  })

  it('simulates failures on demand', async () => {
    const signal = new AbortController().signal
    const fail = (simulate: EngineTask['simulate']) => engine.generate(task({ simulate }), { signal, progress() {} })
    await expect(fail({ fail: 'request_moderated' })).rejects.toMatchObject({ kind: 'request_moderated' })
    await expect(fail({ fail: 'content_moderated' })).rejects.toMatchObject({ kind: 'content_moderated' })
    await expect(fail({ fail: 'error' })).rejects.toBeInstanceOf(EngineError)
  })
})
