import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EngineTask } from '../../../src/engines/engine.js'
import { EngineError } from '../../../src/engines/engine-error.js'
import { createFalEngine } from '../../../src/engines/fal/fal-engine.js'
import type { ProviderEngineOptions } from '../../../src/engines/provider-options.js'
import { type FalEmulator, startFalEmulator } from '../../emulators/fal.js'

let emulator: FalEmulator
beforeAll(async () => {
  emulator = await startFalEmulator({ key: 'fal-key' })
})
afterAll(() => emulator.close())

const PRICES = { 'flux-pro-1.1': 0.04, 'flux-pro-1.1-ultra': 0.06, 'flux-dev': 0.025 }
const engine = (overrides: Partial<ProviderEngineOptions> = {}) =>
  createFalEngine({
    apiKey: 'fal-key',
    baseUrl: emulator.url,
    maxActive: 4,
    pricesUsd: PRICES,
    pollMinMs: 5,
    pollMaxMs: 20,
    ...overrides,
  })

function task(overrides: Partial<EngineTask> = {}): EngineTask {
  return {
    jobId: 'job-fal',
    model: 'flux-pro-1.1',
    prompt: 'a lighthouse at dusk',
    width: 512,
    height: 256,
    seed: 42,
    numImages: 2,
    promptUpsampling: true,
    raw: false,
    safetyTolerance: 4,
    output: { format: 'png', quality: 90 },
    ...overrides,
  }
}

async function generate(t: EngineTask, options: Partial<ProviderEngineOptions> = {}, signal?: AbortSignal) {
  const progress: number[] = []
  const output = await engine(options).generate(t, {
    signal: signal ?? new AbortController().signal,
    progress: (f) => progress.push(f),
  })
  return { output, progress }
}

/** The error a generation ended with. */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('the generation should have failed'),
    (error: unknown) => error as EngineError,
  )

const lastSubmit = () => emulator.submits.at(-1)!

describe('the fal engine against an emulated queue.fal.run', () => {
  it('maps a flux-pro/v1.1 task and follows the owner/app status URL through 202s to a 200', async () => {
    emulator.script({ pendingPolls: 4 })
    const reads = emulator.statusReads.length
    const { output, progress } = await generate(task())
    expect(lastSubmit().path).toBe('/fal-ai/flux-pro/v1.1')
    expect(lastSubmit().headers.authorization).toBe('Key fal-key')
    // Exactly these fields: image_size as an object, the tolerance as a string, no sync_mode.
    expect(lastSubmit().body).toEqual({
      prompt: 'a lighthouse at dusk',
      seed: 42,
      num_images: 2,
      output_format: 'png',
      image_size: { width: 512, height: 256 },
      safety_tolerance: '4',
      enhance_prompt: true,
    })
    const id = output.upstreamIds![0]!
    expect(emulator.statusReads.slice(reads)).toEqual([
      ...Array.from({ length: 4 }, () => ({ path: `/fal-ai/flux-pro/requests/${id}/status`, status: 202 })),
      { path: `/fal-ai/flux-pro/requests/${id}/status`, status: 200 },
    ])
    expect(emulator.lastQueuePosition).toBe(0)
    expect(output.images).toHaveLength(2)
    for (const image of output.images) {
      expect(image.kind).toBe('encoded')
      const meta = await sharp(image.kind === 'encoded' ? image.data : Buffer.alloc(0)).metadata()
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 512, 256])
    }
    expect(output.upstreamCostUsd).toBe(0.08)
    expect(output.notHonoured).toBeUndefined()
    // Queued and running are small fractions, in order, then done.
    expect(progress.filter((f) => f < 0.1).length).toBeGreaterThan(0)
    expect(progress).toEqual([...progress].sort((a, b) => a - b))
    expect(progress.at(-1)).toBe(1)
    expect(emulator.active()).toBe(0)
  })

  it('sends ultra its aspect ratio, raw and the image prompt as a data URI; a tolerance of 0 becomes "1"', async () => {
    emulator.script({ pendingPolls: 1 })
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
      .png()
      .toBuffer()
    const { output } = await generate(
      task({
        model: 'flux-pro-1.1-ultra',
        width: 2752,
        height: 1536,
        aspectRatio: '16:9',
        numImages: 1,
        raw: true,
        promptUpsampling: false,
        safetyTolerance: 0,
        imagePrompt: { data: png, strength: 0.3 },
        output: { format: 'webp', quality: 90 },
      }),
    )
    expect(lastSubmit().path).toBe('/fal-ai/flux-pro/v1.1-ultra')
    expect(lastSubmit().body).toEqual({
      prompt: 'a lighthouse at dusk',
      seed: 42,
      num_images: 1,
      // fal makes no webp: png, which fluxhost converts.
      output_format: 'png',
      aspect_ratio: '16:9',
      raw: true,
      safety_tolerance: '1',
      enhance_prompt: false,
      image_url: `data:image/png;base64,${png.toString('base64')}`,
      image_prompt_strength: 0.3,
    })
    expect(emulator.statusReads.at(-1)!.path).toBe(`/fal-ai/flux-pro/requests/${output.upstreamIds![0]}/status`)
    expect(output.notHonoured).toEqual(['safety_tolerance'])
    expect(output.upstreamCostUsd).toBe(0.06)
  })

  it("maps flux-dev's steps and guidance, and reports what fal's flux-dev cannot take", async () => {
    emulator.script({ pendingPolls: 1 })
    const { output } = await generate(
      task({
        model: 'flux-dev',
        numImages: 1,
        steps: 20,
        guidance: 2.5,
        raw: true,
        output: { format: 'jpeg', quality: 90 },
        imagePrompt: { data: Buffer.from('not really an image'), strength: 0.5 },
      }),
    )
    expect(lastSubmit().path).toBe('/fal-ai/flux/dev')
    expect(lastSubmit().body).toEqual({
      prompt: 'a lighthouse at dusk',
      seed: 42,
      num_images: 1,
      output_format: 'jpeg',
      image_size: { width: 512, height: 256 },
      num_inference_steps: 20,
      guidance_scale: 2.5,
      enable_safety_checker: true,
    })
    expect(emulator.statusReads.at(-1)!.path).toBe(`/fal-ai/flux/requests/${output.upstreamIds![0]}/status`)
    expect(output.notHonoured).toEqual(['safety_tolerance', 'prompt_upsampling', 'raw', 'image_prompt'])
    expect(output.upstreamCostUsd).toBe(0.025)
  })

  it('reads has_nsfw_concepts as content_moderated, a 422 content_policy_violation as request_moderated', async () => {
    emulator.script({ pendingPolls: 0, outcome: 'content_moderated' })
    const flagged = await failure(generate(task()))
    expect(flagged).toMatchObject({ kind: 'content_moderated', message: expect.stringContaining('has_nsfw_concepts') })
    emulator.script({ pendingPolls: 0, outcome: 'request_moderated' })
    const input = await failure(generate(task()))
    expect(input).toMatchObject({ kind: 'request_moderated', message: expect.stringContaining('flagged') })
    expect(input.requestId).toBeTruthy()
  })

  it('reads 403 "Exhausted balance" as out of credit, and a 401 as a refused key', async () => {
    emulator.script({ refuse: 'no_credit' })
    expect(await failure(generate(task()))).toMatchObject({ kind: 'insufficient_credits', submitLost: false })
    emulator.script({ refuse: 'bad_key' })
    expect(await failure(generate(task()))).toMatchObject({ kind: 'unavailable', submitLost: false })
  })

  it('fails a 5xx submit over (fal does not charge it); a submit whose answer was lost is not re-sent', async () => {
    emulator.script({ refuse: 'server_error' })
    expect(await failure(generate(task()))).toMatchObject({ kind: 'unavailable', submitLost: false })
    emulator.script({ dropSubmit: true })
    const before = emulator.submits.length
    expect(await failure(generate(task()))).toMatchObject({ kind: 'failed', submitLost: true })
    expect(emulator.submits.length).toBe(before + 1)
  })

  it('cancels the request through its cancel URL when the job is aborted', async () => {
    emulator.script({ hang: true })
    const reads = emulator.statusReads.length
    const controller = new AbortController()
    const pending = failure(generate(task(), {}, controller.signal))
    await expect.poll(() => emulator.statusReads.length).toBeGreaterThan(reads)
    controller.abort()
    const error = await pending
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe('canceled')
    expect(emulator.cancels).toContain(error.requestId)
    expect(emulator.active()).toBe(0)
  })

  it('cancels upstream when it gives up on a request that never ends', async () => {
    emulator.script({ hang: true })
    const error = await failure(generate(task(), { taskTimeoutMs: 30 }))
    expect(error.kind).toBe('failed')
    expect(emulator.cancels).toContain(error.requestId)
  })

  it('checks the key with an unbilled status read', async () => {
    const submits = emulator.submits.length
    await expect(engine().check!(AbortSignal.timeout(5_000))).resolves.toEqual({
      reachable: true,
      detail: 'key accepted',
    })
    await expect(engine({ apiKey: 'wrong' }).check!(AbortSignal.timeout(5_000))).resolves.toEqual({
      reachable: false,
      detail: 'key refused (401)',
    })
    expect(emulator.submits.length).toBe(submits)
  })
})
