import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiframeEngine } from '../../../src/engines/apiframe/apiframe-engine.js'
import type { EngineTask } from '../../../src/engines/engine.js'
import type { EngineError } from '../../../src/engines/engine-error.js'
import type { ProviderEngineOptions } from '../../../src/engines/provider-options.js'
import { APIFRAME_CONTENT_POLICY, startApiframeEmulator } from '../../emulators/apiframe.js'
import { renderImage } from '../../emulators/provider.js'

let emulator: Awaited<ReturnType<typeof startApiframeEmulator>>
beforeAll(async () => {
  emulator = await startApiframeEmulator({ key: 'afk_test' })
})
afterAll(() => emulator.close())

const engineWith = (options: Partial<ProviderEngineOptions> = {}) =>
  createApiframeEngine({
    apiKey: 'afk_test',
    baseUrl: emulator.url,
    maxActive: 4,
    pricesUsd: { 'flux-pro-1.1': 0.04, 'flux-pro-1.1-ultra': 0.06 },
    pollMinMs: 5,
    pollMaxMs: 10,
    ...options,
  })

let jobs = 0
const task = (over: Partial<EngineTask>): EngineTask => ({
  jobId: `job-apiframe-${++jobs}`,
  model: 'flux-pro-1.1',
  prompt: 'a windmill',
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
const submitsFor = (prompt: string) => emulator.submits.filter((s) => s.body?.prompt === prompt)
const jobFor = (prompt: string) => [...emulator.jobs.values()].find((job) => job.body.prompt === prompt)
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected the generation to fail'),
    (error: unknown) => error as EngineError,
  )
const formatOf = async (image: { kind: string; data: Buffer }) => {
  const meta = await sharp(image.data).metadata()
  return [image.kind, meta.format, meta.width, meta.height]
}

describe('the apiframe engine against an emulated Apiframe v2', () => {
  it('maps a flux-1.1-pro task onto fluxParams, one idempotent job per image', async () => {
    emulator.script({})
    const { out, progress } = await run(
      task({
        jobId: 'job-mapped',
        prompt: 'a mapped windmill',
        numImages: 2,
        promptUpsampling: true,
        raw: true,
        safetyTolerance: 4,
        imagePrompt: { data: await renderImage(32, 32, 'png'), strength: 0.5 },
        simulate: undefined,
      }),
    )
    const sent = submitsFor('a mapped windmill')
    expect(sent.map((s) => s.headers['x-api-key'])).toEqual(['afk_test', 'afk_test'])
    expect(sent.map((s) => s.headers['idempotency-key'])).toEqual(['fluxhost-job-mapped-0', 'fluxhost-job-mapped-1'])
    expect(sent.map((s) => s.body)).toEqual(
      [7, 8].map((seed) => ({
        model: 'flux-1.1-pro',
        prompt: 'a mapped windmill',
        fluxParams: {
          width: 512,
          height: 384,
          output_format: 'png',
          output_quality: 90,
          seed,
          prompt_upsampling: true,
        },
      })),
    )
    expect(out.notHonoured?.sort()).toEqual(['image_prompt', 'raw', 'safety_tolerance'])
    expect(out.upstreamIds).toEqual(
      [...emulator.jobs.values()].filter((j) => j.body.prompt === 'a mapped windmill').map((j) => j.id),
    )
    expect(out.upstreamCostUsd).toBe(0.08)
    for (const image of out.images) expect(await formatOf(image)).toEqual(['encoded', 'png', 512, 384])
    // The emulator's PROCESSING read says progress 60 (of 100): the first of two images is 0.3 of the task.
    expect(progress).toContain(0.3)
    expect(progress.at(-1)).toBe(1)
  })

  it('sends ultra its aspect ratio and raw, and takes a result object', async () => {
    emulator.script({})
    emulator.resultAs('object')
    try {
      const { out } = await run(
        task({
          model: 'flux-pro-1.1-ultra',
          prompt: 'an ultra windmill',
          width: 3136,
          height: 1344,
          aspectRatio: '21:9',
          raw: true,
          output: { format: 'jpeg', quality: 70 },
        }),
      )
      expect(submitsFor('an ultra windmill')[0]!.body).toEqual({
        model: 'flux-1.1-pro-ultra',
        prompt: 'an ultra windmill',
        fluxParams: {
          aspect_ratio: '21:9',
          raw: true,
          output_format: 'jpg',
          output_quality: 70,
          seed: 7,
          prompt_upsampling: false,
        },
      })
      expect(out.notHonoured).toBeUndefined()
      expect(out.upstreamCostUsd).toBe(0.06)
      expect((await formatOf(out.images[0]!)).slice(0, 2)).toEqual(['encoded', 'jpeg'])
    } finally {
      emulator.resultAs('string')
    }
  })

  it('gets the job it already made when a job is submitted again (Idempotency-Key)', async () => {
    emulator.script({})
    const again = task({ jobId: 'job-twice', prompt: 'a replayed windmill' })
    const first = await run(again)
    const second = await run(again)
    expect(submitsFor('a replayed windmill')).toHaveLength(2)
    expect([...emulator.jobs.values()].filter((job) => job.body.prompt === 'a replayed windmill')).toHaveLength(1)
    expect(second.out.upstreamIds).toEqual(first.out.upstreamIds)
    // The same key with another request (a rewritten prompt) is refused, and fails the job.
    const error = await failure(run({ ...again, prompt: 'a rewritten windmill' }))
    expect(error.kind).toBe('failed')
    expect(error.message).toContain('Idempotency-Key fluxhost-job-twice-0')
  })

  it.each([
    ['content_moderated', 'content_moderated'],
    ['request_moderated', 'content_moderated'],
    ['error', 'failed'],
  ] as const)('maps a FAILED job of outcome %s to %s', async (outcome, kind) => {
    emulator.script({ outcome })
    const error = await failure(run(task({ prompt: `a ${outcome} windmill` })))
    expect(error.kind).toBe(kind)
    expect(error.requestId).toBe(jobFor(`a ${outcome} windmill`)!.id)
    if (outcome !== 'error') expect(error.message).toContain(APIFRAME_CONTENT_POLICY)
  })

  it('says a canceled job runs on upstream: Apiframe has no cancel', async () => {
    emulator.script({ hang: true })
    const engine = engineWith()
    expect(engine.cancelsUpstream).toBe(false)
    const abort = new AbortController()
    const pending = failure(run(task({ prompt: 'a canceled windmill' }), engine, abort.signal))
    await expect.poll(() => jobFor('a canceled windmill')?.reads ?? 0).toBeGreaterThan(0)
    abort.abort()
    const error = await pending
    expect(error.kind).toBe('canceled')
    expect(error.message).toContain(`job ${jobFor('a canceled windmill')!.id} runs on`)
    expect(jobFor('a canceled windmill')!.status).toBe('PROCESSING')
    expect(emulator.cancels).toEqual([])
  })

  it("reads the 402 body's credit counts", async () => {
    emulator.script({ refuse: 'no_credit' })
    const error = await failure(run(task({ prompt: 'a broke windmill' })))
    expect(error.kind).toBe('insufficient_credits')
    expect(error.message).toContain('(0 of 4 credits)')
  })

  it('reads GET /v2/me for check()', async () => {
    await expect(engineWith().check!(AbortSignal.timeout(5_000))).resolves.toEqual({
      reachable: true,
      detail: 'credits 1000',
    })
    await expect(engineWith({ apiKey: 'afk_wrong' }).check!(AbortSignal.timeout(5_000))).resolves.toEqual({
      reachable: false,
      detail: 'key refused (401)',
    })
  })
})
