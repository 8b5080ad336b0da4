import sharp from 'sharp'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { EngineTask } from '../../../src/engines/engine.js'
import type { EngineError } from '../../../src/engines/engine-error.js'
import { togetherEntry } from '../../../src/engines/together/entry.js'
import { createTogetherEngine } from '../../../src/engines/together/together-engine.js'
import { startTogetherEmulator, type TogetherEmulator } from '../../emulators/together.js'

let emulator: TogetherEmulator
const prices = { 'flux-pro-1.1': 0.04, 'flux-dev': 0.025 }
const engineFor = (key = 'tg-key') =>
  createTogetherEngine({ apiKey: key, baseUrl: emulator.url, maxActive: 2, pricesUsd: prices })

beforeAll(async () => {
  emulator = await startTogetherEmulator({ key: 'tg-key' })
})
afterAll(async () => {
  await emulator?.close()
})
beforeEach(() => {
  emulator.script({})
  emulator.answerWithUrls(false)
  emulator.submits.length = 0
  emulator.downloads.length = 0
})

const task = (over: Partial<EngineTask> = {}): EngineTask => ({
  jobId: 'job-together',
  model: 'flux-dev',
  prompt: 'a lighthouse at dusk',
  width: 512,
  height: 384,
  seed: 77,
  numImages: 2,
  promptUpsampling: true,
  raw: false,
  safetyTolerance: 4,
  steps: 30,
  guidance: 3.5,
  aspectRatio: undefined,
  imagePrompt: undefined,
  output: { format: 'png', quality: 90 },
  simulate: undefined,
  ...over,
})

/** Runs a task, recording its progress reports. */
async function run(t: EngineTask, engine = engineFor(), signal = new AbortController().signal) {
  const progress: number[] = []
  const output = await engine.generate(t, { signal, progress: (f) => progress.push(f) })
  return { output, progress }
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the generation to fail')
    },
    (error: unknown) => error as EngineError,
  )

describe('the together engine against an emulated Together AI', () => {
  it('maps every task field onto its documented body and decodes the inline images', async () => {
    const { output, progress } = await run(task())
    expect(emulator.submits).toHaveLength(1)
    const [sent] = emulator.submits
    expect(sent!.headers.authorization).toBe('Bearer tg-key')
    expect(sent!.body).toEqual({
      model: 'black-forest-labs/FLUX.1-dev',
      prompt: 'a lighthouse at dusk',
      width: 512,
      height: 384,
      n: 2,
      seed: 77,
      output_format: 'png',
      response_format: 'base64',
      steps: 30,
      guidance_scale: 3.5,
    })
    expect(output.images).toHaveLength(2)
    for (const image of output.images) {
      expect(image.kind).toBe('encoded')
      const meta = await sharp(image.data).metadata()
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 512, 384])
    }
    // Inline: nothing fetched a second time.
    expect(emulator.downloads).toEqual([])
    expect(output.notHonoured).toEqual(['safety_tolerance', 'prompt_upsampling'])
    expect(output.upstreamCostUsd).toBe(0.05)
    expect(output.upstreamIds).toEqual([expect.stringMatching(/^tg-/)])
    expect(progress[0]).toBe(0.05)
    expect(progress.at(-1)).toBe(1)
  })

  it('sends pro without dev-only fields, asks png for webp, and reports raw as not honoured', async () => {
    const pro = { model: 'flux-pro-1.1' as const, steps: undefined, guidance: undefined }
    const { output } = await run(task({ ...pro, raw: true, output: { format: 'webp', quality: 90 } }))
    const [sent] = emulator.submits.map((s) => s.body)
    expect(sent).toMatchObject({ model: 'black-forest-labs/FLUX.1.1-pro', output_format: 'png' })
    expect(sent).not.toHaveProperty('steps')
    expect(sent).not.toHaveProperty('guidance_scale')
    expect(output.notHonoured).toEqual(['safety_tolerance', 'prompt_upsampling', 'raw'])
  })

  it('downloads the images when Together answers with URLs instead', async () => {
    emulator.answerWithUrls(true)
    const { output } = await run(task({ numImages: 3, output: { format: 'jpeg', quality: 90 } }))
    expect(emulator.downloads).toHaveLength(3)
    expect(output.images).toHaveLength(3)
    const meta = await sharp(output.images[2]!.data).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 512, 384])
  })

  it("reads Together's moderation errors as moderation, uncharged", async () => {
    emulator.script({ outcome: 'content_moderated' })
    expect((await failure(run(task()))).kind).toBe('content_moderated')
    emulator.script({ outcome: 'request_moderated' })
    expect((await failure(run(task()))).kind).toBe('request_moderated')
  })

  it('402 is the monthly spending limit: insufficient credits', async () => {
    emulator.script({ refuse: 'no_credit' })
    const error = await failure(run(task()))
    expect(error.kind).toBe('insufficient_credits')
    expect(error.message).toMatch(/Together.*monthly spending limit/)
  })

  it('an abort closes the connection, says Together may still bill, and sends nothing again', async () => {
    emulator.script({ hang: true })
    const controller = new AbortController()
    const pending = failure(run(task(), engineFor(), controller.signal))
    await expect.poll(() => emulator.active()).toBe(1)
    controller.abort()
    const error = await pending
    expect(error.kind).toBe('canceled')
    expect(error.message).toMatch(/Together.*may still make the image and bill it/)
    await expect.poll(() => emulator.active()).toBe(0)
    expect(emulator.submits).toHaveLength(1)
  })

  it('a lost answer is never sent again', async () => {
    emulator.script({ dropSubmit: true })
    const error = await failure(run(task()))
    expect([error.kind, error.submitLost]).toEqual(['failed', true])
    expect(emulator.submits).toHaveLength(1)
  })

  it('reports an image prompt (and only a tolerance other than the default) as not honoured', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } })
      .png()
      .toBuffer()
    const { output } = await run(task({ imagePrompt: { data: png, strength: 0.5 }, safetyTolerance: 2 }))
    expect(emulator.submits[0]!.body).not.toHaveProperty('image_url')
    expect(output.notHonoured).toEqual(['prompt_upsampling', 'image_prompt'])
  })

  it('check() reads GET /v1/models with the key', async () => {
    expect(await engineFor().check!(AbortSignal.timeout(5_000))).toEqual({ reachable: true, detail: 'key accepted' })
    expect(await engineFor('wrong').check!(AbortSignal.timeout(5_000))).toEqual({
      reachable: false,
      detail: 'key refused (401)',
    })
    expect(emulator.submits).toHaveLength(0)
  })

  it('the entry builds the engine only with a key, on the configured URL', async () => {
    const config = (together: unknown) =>
      ({ providers: { together }, enginePricesUsd: { together: prices } }) as Parameters<typeof togetherEntry.create>[0]
    expect(togetherEntry.create(config(null))).toBeUndefined()
    const engine = togetherEntry.create(config({ key: 'tg-key', url: emulator.url, maxActive: 1 }))!
    expect([engine.name, engine.local, engine.cancelsUpstream, engine.takesImagePrompt]).toEqual([
      'together',
      false,
      false,
      false,
    ])
    expect([engine.supports('flux-pro-1.1'), engine.supports('flux-pro-1.1-ultra')]).toEqual([true, false])
    expect((await engine.check!(AbortSignal.timeout(5_000))).reachable).toBe(true)
  })
})
