import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EngineTask } from '../../../src/engines/engine.js'
import { EngineError } from '../../../src/engines/engine-error.js'
import type { ProviderEngineOptions } from '../../../src/engines/provider-options.js'
import { createSeaartEngine } from '../../../src/engines/seaart/seaart-engine.js'
import { type SeaartEmulator, startSeaartEmulator } from '../../emulators/seaart.js'

let emulator: SeaartEmulator
/** The same API answering in seed 000's result shape, with a cost. */
let seed000: SeaartEmulator
beforeAll(async () => {
  emulator = await startSeaartEmulator({ key: 'seaart-key' })
  seed000 = await startSeaartEmulator({ key: 'seaart-key', resultShape: 'output', costUsd: '0.035' })
})
afterAll(async () => {
  await emulator.close()
  await seed000.close()
})

const engine = (overrides: Partial<ProviderEngineOptions> = {}) =>
  createSeaartEngine({
    apiKey: 'seaart-key',
    baseUrl: emulator.url,
    maxActive: 2,
    pricesUsd: { 'flux-pro-1.1': 0.04 },
    pollMinMs: 5,
    pollMaxMs: 20,
    ...overrides,
  })

function task(overrides: Partial<EngineTask> = {}): EngineTask {
  return {
    jobId: 'job-seaart',
    model: 'flux-pro-1.1',
    prompt: 'a red apple on a white table',
    width: 512,
    height: 256,
    seed: 42,
    numImages: 1,
    promptUpsampling: true,
    raw: false,
    safetyTolerance: 0,
    output: { format: 'png', quality: 90 },
    ...overrides,
  }
}

const generate = (t: EngineTask, options: Partial<ProviderEngineOptions> = {}, signal?: AbortSignal) =>
  engine(options).generate(t, { signal: signal ?? new AbortController().signal, progress: () => undefined })

/** The error a generation ended with. */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('the generation should have failed'),
    (error: unknown) => error as EngineError,
  )

const imageOf = async (image: { kind: string; data?: Buffer } | undefined) => {
  const meta = await sharp(image?.data ?? Buffer.alloc(0)).metadata()
  return [image?.kind, meta.format, meta.width, meta.height]
}

describe('the seaart engine against an emulated cloud.seaart.ai/model', () => {
  it('maps the task onto flux_pro_11, one request per image, and reads the result at …/response', async () => {
    emulator.script({ pendingPolls: 2 })
    const submits = emulator.submits.length
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
      .png()
      .toBuffer()
    const output = await generate(task({ numImages: 2, raw: true, imagePrompt: { data: png, strength: 0.5 } }))
    const sent = emulator.submits.slice(submits)
    expect(sent.map((s) => [s.path, s.headers.authorization])).toEqual([
      ['/model/v1/queue/flux_pro_11', 'Bearer seaart-key'],
      ['/model/v1/queue/flux_pro_11', 'Bearer seaart-key'],
    ])
    expect(sent[0]!.body).toEqual({
      model: 'flux_pro_11',
      prompt: 'a red apple on a white table',
      width: 512,
      height: 256,
      seed: 42,
      prompt_upsampling: true,
      // SeaArt takes BFL's 0 (strictest) as it is.
      safety_tolerance: 0,
      output_format: 'png',
      image_prompt: png.toString('base64'),
    })
    expect(sent[1]!.body.seed).toBe(43)
    expect(output.upstreamIds).toHaveLength(2)
    for (const id of output.upstreamIds!) {
      expect(id).toMatch(/^mmsu_/)
      expect(emulator.reads).toContainEqual({
        path: `/model/v1/queue/flux_pro_11/requests/${id}/response`,
        status: 200,
      })
    }
    expect(await Promise.all(output.images.map(imageOf))).toEqual([
      ['encoded', 'png', 512, 256],
      ['encoded', 'png', 512, 256],
    ])
    expect(output.upstreamCostUsd).toBe(0.08)
    expect(output.notHonoured).toEqual(['raw'])
    expect(emulator.active()).toBe(0)
  })

  it("reads seed 000's output[].content[] shape and its usage.cost; webp is asked as png", async () => {
    seed000.script({ pendingPolls: 1 })
    const output = await generate(task({ output: { format: 'webp', quality: 90 } }), { baseUrl: seed000.url })
    expect(seed000.submits.at(-1)!.body.output_format).toBe('png')
    expect(await imageOf(output.images[0])).toEqual(['encoded', 'png', 512, 256])
    expect(output.upstreamCostUsd).toBe(0.035)
  })

  it.each([
    ['error', 'failed', 'INFERENCE_FAILURE'],
    ['request_moderated', 'request_moderated', 'INPUT_MODERATION'],
    ['content_moderated', 'content_moderated', 'OUTPUT_MODERATION'],
  ] as const)('maps COMPLETED with an error (%s) to %s, without canceling', async (outcome, kind, errorType) => {
    emulator.script({ pendingPolls: 1, outcome })
    const cancels = emulator.cancels.length
    const error = await failure(generate(task()))
    expect(error).toMatchObject({ kind, message: expect.stringContaining(errorType) })
    expect(error.requestId).toMatch(/^mmsu_/)
    // The status said it all: no response read, and nothing left to cancel.
    expect(emulator.reads.filter((read) => read.path.includes(error.requestId!)).map((read) => read.path)).toEqual([
      expect.stringMatching(/\/status$/),
      expect.stringMatching(/\/status$/),
    ])
    expect(emulator.cancels.length).toBe(cancels)
  })

  it('cancels the request through its cancel URL when the job is aborted', async () => {
    emulator.script({ hang: true })
    const reads = emulator.reads.length
    const controller = new AbortController()
    const pending = failure(generate(task(), {}, controller.signal))
    await expect.poll(() => emulator.reads.length).toBeGreaterThan(reads)
    controller.abort()
    const error = await pending
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe('canceled')
    expect(emulator.cancels).toContain(error.requestId)
    expect(emulator.active()).toBe(0)
  })

  it('takes a 5xx to a submit as possibly billed (undocumented), and 402 as out of credit', async () => {
    emulator.script({ refuse: 'server_error' })
    expect(await failure(generate(task()))).toMatchObject({ kind: 'failed', submitLost: true })
    emulator.script({ refuse: 'no_credit' })
    expect(await failure(generate(task()))).toMatchObject({ kind: 'insufficient_credits', submitLost: false })
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
