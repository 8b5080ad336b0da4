import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EngineTask } from '../../../src/engines/engine.js'
import { EngineError } from '../../../src/engines/engine-error.js'
import { createReplicateEngine, type ReplicateEngineOptions } from '../../../src/engines/replicate/replicate-engine.js'
import { renderImage } from '../../emulators/provider.js'
import { REPLICATE_FLAGGED, startReplicateEmulator } from '../../emulators/replicate.js'

let emulator: Awaited<ReturnType<typeof startReplicateEmulator>>
beforeAll(async () => {
  // A held Prefer: wait answers after 0.1 s here, not the documented 60.
  emulator = await startReplicateEmulator({ key: 'r8_test', maxWaitS: 0.1 })
})
afterAll(() => emulator.close())

const engineWith = (options: Partial<ReplicateEngineOptions> = {}) =>
  createReplicateEngine({
    apiKey: 'r8_test',
    baseUrl: emulator.url,
    maxActive: 4,
    pricesUsd: { 'flux-pro-1.1': 0.04, 'flux-pro-1.1-ultra': 0.06, 'flux-dev': 0.025 },
    pollMinMs: 5,
    pollMaxMs: 10,
    ...options,
  })

const task = (over: Partial<EngineTask>): EngineTask => ({
  jobId: 'job-replicate',
  model: 'flux-pro-1.1',
  prompt: 'a lighthouse',
  width: 512,
  height: 384,
  seed: 7,
  numImages: 1,
  promptUpsampling: false,
  raw: false,
  safetyTolerance: 2,
  output: { format: 'png', quality: 90 },
  ...over,
})
const run = (t: EngineTask, engine = engineWith(), signal = new AbortController().signal) => {
  const progress: number[] = []
  return engine.generate(t, { signal, progress: (f) => progress.push(f) }).then((out) => ({ out, progress }))
}
const submitsFor = (prompt: string) => emulator.submits.filter((s) => s.body?.input?.prompt === prompt)
const sizeOf = async (data: Buffer) => {
  const meta = await sharp(data).metadata()
  return [meta.format, meta.width, meta.height]
}
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected the generation to fail'),
    (error: unknown) => error as EngineError,
  )

describe('the replicate engine against an emulated Replicate', () => {
  it('maps a flux-1.1-pro task onto the model input, one prediction per image', async () => {
    emulator.script({ pendingPolls: 1 })
    const imagePrompt = { data: await renderImage(64, 64, 'png'), strength: 0.4 }
    const { out } = await run(
      task({
        prompt: 'a mapped lighthouse',
        numImages: 2,
        promptUpsampling: true,
        safetyTolerance: 0,
        steps: 20,
        guidance: 3,
        imagePrompt,
        simulate: undefined,
      }),
    )
    const sent = submitsFor('a mapped lighthouse')
    expect(sent.map((s) => s.path)).toEqual(Array(2).fill('/v1/models/black-forest-labs/flux-1.1-pro/predictions'))
    expect(sent[0]!.headers.authorization).toBe('Bearer r8_test')
    expect(sent[0]!.headers.prefer).toBeUndefined()
    expect(sent.map((s) => s.body.input)).toEqual(
      [7, 8].map((seed) => ({
        prompt: 'a mapped lighthouse',
        seed,
        aspect_ratio: 'custom',
        width: 512,
        height: 384,
        // BFL's 0 is below Replicate's range: sent as 1 and reported.
        safety_tolerance: 1,
        prompt_upsampling: true,
        output_format: 'png',
        output_quality: 90,
        image_prompt: `data:image/png;base64,${imagePrompt.data.toString('base64')}`,
      })),
    )
    expect(out.notHonoured?.sort()).toEqual(['guidance', 'safety_tolerance', 'steps'])
    expect(out.upstreamCostUsd).toBe(0.08)
    expect(out.upstreamIds).toHaveLength(2)
    // flux-1.1-pro's output is one URI string.
    expect(typeof emulator.predictions.get(out.upstreamIds![0]!)!.output).toBe('string')
    for (const image of out.images) {
      expect(image.kind).toBe('encoded')
      if (image.kind === 'encoded') expect(await sizeOf(image.data)).toEqual(['png', 512, 384])
    }
  })

  it('asks ultra for an aspect ratio from its enum, raw, and png for webp', async () => {
    emulator.script({})
    const { out } = await run(
      task({
        model: 'flux-pro-1.1-ultra',
        prompt: 'an ultra lighthouse',
        aspectRatio: '2:1',
        raw: true,
        promptUpsampling: true,
        imagePrompt: { data: await renderImage(32, 32, 'jpeg'), strength: 0.3 },
        output: { format: 'webp', quality: 80 },
      }),
    )
    const [sent] = submitsFor('an ultra lighthouse')
    expect(sent!.path).toBe('/v1/models/black-forest-labs/flux-1.1-pro-ultra/predictions')
    expect(sent!.body.input).toMatchObject({ aspect_ratio: '16:9', raw: true, output_format: 'png' })
    expect(sent!.body.input.image_prompt).toMatch(/^data:image\/jpeg;base64,/)
    expect(sent!.body.input.image_prompt_strength).toBe(0.3)
    expect(out.notHonoured?.sort()).toEqual(['aspect_ratio', 'prompt_upsampling'])
    expect(out.upstreamCostUsd).toBe(0.06)
  })

  it("takes flux-dev's list output, steps and guidance; its size comes from a ratio", async () => {
    emulator.script({ pendingPolls: 3 })
    const { out, progress } = await run(
      task({ model: 'flux-dev', prompt: 'a dev lighthouse', width: 512, height: 512, steps: 12, guidance: 2.5 }),
    )
    const [sent] = submitsFor('a dev lighthouse')
    expect(sent!.body.input).toEqual({
      prompt: 'a dev lighthouse',
      seed: 7,
      aspect_ratio: '1:1',
      megapixels: '0.25',
      num_outputs: 1,
      num_inference_steps: 12,
      guidance: 2.5,
      output_format: 'png',
      output_quality: 90,
      go_fast: false,
    })
    expect(Array.isArray(emulator.predictions.get(out.upstreamIds![0]!)!.output)).toBe(true)
    expect(out.images).toHaveLength(1)
    expect(out.notHonoured).toEqual(['width', 'height'])
    // The emulator's logs carry a progress bar at 50% on the second read.
    expect(progress.some((f) => Math.abs(f - (0.1 + 0.85 * 0.5)) < 1e-9)).toBe(true)
    expect(progress.at(-1)).toBe(1)
  })

  it('with Prefer: wait takes a prediction that came back succeeded without polling it', async () => {
    emulator.script({ pendingPolls: 0 })
    const before = emulator.reads()
    const { out } = await run(task({ prompt: 'a waited lighthouse' }), engineWith({ preferWaitS: 5 }))
    expect(submitsFor('a waited lighthouse')[0]!.headers.prefer).toBe('wait=5')
    expect(emulator.reads()).toBe(before)
    expect(out.images).toHaveLength(1)
  })

  it('with Prefer: wait polls a prediction that was still running when the wait ended', async () => {
    emulator.script({ pendingPolls: 2 })
    const before = emulator.reads()
    const { out } = await run(task({ prompt: 'a held lighthouse' }), engineWith({ preferWaitS: 1 }))
    expect(emulator.reads() - before).toBe(3)
    expect(out.images).toHaveLength(1)
  })

  it.each([
    ['content_moderated', 'content_moderated'],
    // Replicate says E005 for a flagged input too: it cannot be told from a flagged output.
    ['request_moderated', 'content_moderated'],
    ['error', 'failed'],
  ] as const)('maps a prediction that failed with outcome %s to %s', async (outcome, kind) => {
    emulator.script({ outcome })
    const error = await failure(run(task({ prompt: `a ${outcome} lighthouse` })))
    expect(error).toBeInstanceOf(EngineError)
    expect(error.kind).toBe(kind)
    expect(error.requestId).toBeTruthy()
    if (outcome !== 'error') expect(error.message).toContain(REPLICATE_FLAGGED)
    expect(emulator.cancels).not.toContain(error.requestId)
  })

  it('cancels the prediction through urls.cancel when the job is canceled', async () => {
    emulator.script({ hang: true })
    const abort = new AbortController()
    const pending = failure(run(task({ prompt: 'a canceled lighthouse' }), engineWith(), abort.signal))
    await expect
      .poll(() =>
        [...emulator.predictions.values()].find((p) => p.reads > 0 && p.input.prompt === 'a canceled lighthouse'),
      )
      .toBeTruthy()
    abort.abort()
    const error = await pending
    expect(error.kind).toBe('canceled')
    const id = [...emulator.predictions.values()].find((p) => p.input.prompt === 'a canceled lighthouse')!.id
    expect(emulator.cancels).toContain(id)
    expect(error.message).toContain(`prediction ${id} was canceled there`)
    expect(emulator.predictions.get(id)!.status).toBe('canceled')
  })

  it('cancels a prediction that outlives the task timeout', async () => {
    emulator.script({ hang: true })
    const error = await failure(run(task({ prompt: 'a slow lighthouse' }), engineWith({ taskTimeoutMs: 50 })))
    expect(error.kind).toBe('failed')
    expect(error.message).toMatch(/had not ended after/)
    expect(emulator.cancels).toContain(error.requestId)
  })

  it('reads GET /v1/account for check()', async () => {
    await expect(engineWith().check!(AbortSignal.timeout(5_000))).resolves.toEqual({
      reachable: true,
      detail: 'account fluxhost-emulator',
    })
    await expect(engineWith({ apiKey: 'r8_wrong' }).check!(AbortSignal.timeout(5_000))).resolves.toEqual({
      reachable: false,
      detail: 'token refused (401)',
    })
  })
})
