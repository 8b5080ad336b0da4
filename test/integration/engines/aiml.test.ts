import sharp from 'sharp'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAimlEngine } from '../../../src/engines/aiml/aiml-engine.js'
import { aimlEntry } from '../../../src/engines/aiml/entry.js'
import type { EngineTask } from '../../../src/engines/engine.js'
import type { EngineError } from '../../../src/engines/engine-error.js'
import { type AimlEmulator, type AimlShape, startAimlEmulator } from '../../emulators/aiml.js'

let emulator: AimlEmulator
const prices = { 'flux-pro-1.1': 0.04, 'flux-pro-1.1-ultra': 0.06, 'flux-dev': 0.025 }
const engineFor = (key = 'aiml-key') =>
  createAimlEngine({ apiKey: key, baseUrl: emulator.url, maxActive: 2, pricesUsd: prices })

beforeAll(async () => {
  emulator = await startAimlEmulator({ key: 'aiml-key' })
})
afterAll(async () => {
  await emulator?.close()
})
beforeEach(() => {
  emulator.script({})
  emulator.shape('fal')
  emulator.errorShape('message')
  emulator.submits.length = 0
  emulator.downloads.length = 0
})

const task = (over: Partial<EngineTask> = {}): EngineTask => ({
  jobId: 'job-aiml',
  model: 'flux-pro-1.1',
  prompt: 'a red fox in snow',
  width: 640,
  height: 480,
  seed: 12,
  numImages: 2,
  promptUpsampling: false,
  raw: false,
  safetyTolerance: 0,
  steps: undefined,
  guidance: undefined,
  aspectRatio: undefined,
  imagePrompt: undefined,
  output: { format: 'png', quality: 90 },
  simulate: undefined,
  ...over,
})

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

describe('the aiml engine against an emulated AIML API', () => {
  it('maps a flux-pro/v1.1 task, with the tolerance as a string and BFL 0 as "1"', async () => {
    const { output, progress } = await run(task({ promptUpsampling: true }))
    expect(emulator.submits).toHaveLength(1)
    expect(emulator.submits[0]!.headers.authorization).toBe('Bearer aiml-key')
    expect(emulator.submits[0]!.body).toEqual({
      model: 'flux-pro/v1.1',
      prompt: 'a red fox in snow',
      num_images: 2,
      enable_safety_checker: true,
      seed: 12,
      safety_tolerance: '1',
      output_format: 'png',
      image_size: { width: 640, height: 480 },
    })
    expect(output.notHonoured).toEqual(['prompt_upsampling', 'safety_tolerance'])
    expect(output.upstreamCostUsd).toBe(0.08)
    expect(output.images).toHaveLength(2)
    const meta = await sharp(output.images[0]!.data).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 640, 480])
    expect([progress[0], progress.at(-1)]).toEqual([0.05, 1])
  })

  it('sends ultra its aspect ratio and raw, nearest listed ratio when it has no match', async () => {
    const ultra = { model: 'flux-pro-1.1-ultra' as const, width: 2752, height: 1536, raw: true, safetyTolerance: 5 }
    const first = await run(task({ ...ultra, aspectRatio: '16:9', numImages: 1 }))
    const second = await run(task({ ...ultra, aspectRatio: '5:4', width: 2560, height: 2048, numImages: 1 }))
    const [sixteen, five] = emulator.submits.map((s) => s.body)
    expect(sixteen).toEqual({
      model: 'flux-pro/v1.1-ultra',
      prompt: 'a red fox in snow',
      num_images: 1,
      enable_safety_checker: true,
      seed: 12,
      safety_tolerance: '5',
      output_format: 'png',
      aspect_ratio: '16:9',
      raw: true,
    })
    expect(first.output.notHonoured).toBeUndefined()
    expect(five).toMatchObject({ aspect_ratio: '4:3' })
    expect(second.output.notHonoured).toEqual(['aspect_ratio'])
  })

  it('sends flux/dev steps and guidance, and no tolerance or format (it has neither)', async () => {
    const { output } = await run(task({ model: 'flux-dev', steps: 28, guidance: 3, width: 768, height: 512 }))
    expect(emulator.submits[0]!.body).toEqual({
      model: 'flux/dev',
      prompt: 'a red fox in snow',
      num_images: 2,
      enable_safety_checker: true,
      seed: 12,
      image_size: { width: 768, height: 512 },
      num_inference_steps: 28,
      guidance_scale: 3,
    })
    expect(output.notHonoured).toEqual(['safety_tolerance'])
  })

  it('leaves seed 0 to AIML (its seeds start at 1) and says so', async () => {
    const { output } = await run(task({ seed: 0, safetyTolerance: 2 }))
    expect(emulator.submits[0]!.body).not.toHaveProperty('seed')
    expect(output.notHonoured).toEqual(['seed'])
  })

  it.each<[AimlShape, number]>([
    ['fal', 3],
    ['openai-url', 3],
    ['openai-b64', 0],
  ])('reads the %s answer shape', async (shape, downloads) => {
    emulator.shape(shape)
    const { output } = await run(task({ numImages: 3, output: { format: 'jpeg', quality: 90 } }))
    expect(output.images).toHaveLength(3)
    expect(emulator.downloads).toHaveLength(downloads)
    const meta = await sharp(output.images[2]!.data).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 640, 480])
  })

  it('has_nsfw_concepts is content moderation; a flagged prompt is request moderation', async () => {
    emulator.script({ outcome: 'content_moderated' })
    const flagged = await failure(run(task()))
    expect([flagged.kind, flagged.message]).toEqual(['content_moderated', expect.stringMatching(/AIML.*2 of 2/)])
    expect(emulator.downloads).toEqual([])
    emulator.script({ outcome: 'request_moderated' })
    expect((await failure(run(task()))).kind).toBe('request_moderated')
    emulator.errorShape('openai')
    expect((await failure(run(task()))).kind).toBe('request_moderated')
  })

  it('402 is insufficient credits, whatever the error shape', async () => {
    emulator.script({ refuse: 'no_credit' })
    const plain = await failure(run(task()))
    emulator.errorShape('openai')
    const openai = await failure(run(task()))
    for (const error of [plain, openai]) {
      expect(error.kind).toBe('insufficient_credits')
      expect(error.message).toMatch(/AIML.*Insufficient balance/)
    }
  })

  it('an abort closes the connection, says AIML may still bill, and sends nothing again', async () => {
    emulator.script({ hang: true })
    const controller = new AbortController()
    const pending = failure(run(task(), engineFor(), controller.signal))
    await expect.poll(() => emulator.active()).toBe(1)
    controller.abort()
    const error = await pending
    expect(error.kind).toBe('canceled')
    expect(error.message).toMatch(/AIML.*may still make the image and bill it/)
    await expect.poll(() => emulator.active()).toBe(0)
    expect(emulator.submits).toHaveLength(1)
  })

  it('check() reads the free balance endpoint with the key', async () => {
    expect(await engineFor().check!(AbortSignal.timeout(5_000))).toEqual({
      reachable: true,
      detail: 'credits 10000000',
    })
    expect(await engineFor('wrong').check!(AbortSignal.timeout(5_000))).toEqual({
      reachable: false,
      detail: 'key refused (401)',
    })
    expect(emulator.submits).toHaveLength(0)
  })

  it('the entry builds the engine only with a key', async () => {
    const config = (aiml: unknown) =>
      ({ providers: { aiml }, enginePricesUsd: { aiml: prices } }) as Parameters<typeof aimlEntry.create>[0]
    expect(aimlEntry.create(config(null))).toBeUndefined()
    const engine = aimlEntry.create(config({ key: 'aiml-key', url: emulator.url, maxActive: 1 }))!
    expect([engine.name, engine.local, engine.cancelsUpstream, engine.takesImagePrompt]).toEqual([
      'aiml',
      false,
      false,
      false,
    ])
    const { output } = await run(task({ numImages: 1 }), engine as ReturnType<typeof engineFor>)
    expect(output.images).toHaveLength(1)
  })
})
