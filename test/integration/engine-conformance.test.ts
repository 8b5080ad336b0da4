import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EngineTask, ImageEngine } from '../../src/engines/engine.js'
import { EngineError, type EngineErrorKind } from '../../src/engines/engine-error.js'
import type { ProviderEmulator } from '../emulators/provider.js'
import { CONFORMANCE_CASES, type Refusal } from './engine-cases.js'

/**
 * One contract for every engine that talks to an upstream, checked against that upstream's
 * emulator over real HTTP: the image comes back at the asked size, progress moves, moderation
 * and account errors map to the same kinds everywhere, a submit whose answer was lost is never
 * sent again, timeouts and cancels end the task (upstream too, where the provider can cancel).
 */
const task = (overrides: Partial<EngineTask> = {}): EngineTask => ({
  jobId: `conformance-${Math.random().toString(36).slice(2)}`,
  model: 'flux-pro-1.1',
  prompt: 'a lighthouse on a cliff',
  width: 512,
  height: 384,
  seed: 42,
  numImages: 1,
  promptUpsampling: false,
  raw: false,
  safetyTolerance: 2,
  output: { format: 'png', quality: 90 },
  ...overrides,
})

const run = (engine: ImageEngine, signal = new AbortController().signal) => {
  const progress: number[] = []
  return {
    progress,
    result: engine.generate(task(), { signal, progress: (fraction) => progress.push(fraction) }),
  }
}
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('the generation succeeded; a failure was expected')
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(EngineError)
      return error as EngineError
    },
  )

describe.each(CONFORMANCE_CASES)('engine conformance: $name', (c) => {
  let emulator: ProviderEmulator
  let engine: ImageEngine
  beforeAll(async () => {
    emulator = await c.start()
    engine = c.create(emulator)
  })
  afterAll(() => emulator.close())

  it('makes the image at the asked size, reporting progress and cost', async () => {
    emulator.script({ pendingPolls: 2 })
    const { progress, result } = run(engine)
    const output = await result
    expect(output.images).toHaveLength(1)
    const image = output.images[0]!
    const meta = image.kind === 'encoded' ? await sharp(image.data).metadata() : image
    expect([meta.width, meta.height]).toEqual([512, 384])
    expect(progress.length).toBeGreaterThan(0)
    expect(Math.max(...progress)).toBeLessThanOrEqual(1)
    if (!engine.local) expect(output.upstreamCostUsd).toBeGreaterThan(0)
  })

  // A local server moderates nothing (moderation null): fluxhost's own checker screens both.
  it.runIf(c.moderation)('maps moderation of the request and of the output', async () => {
    const moderation = c.moderation!
    emulator.script({ outcome: 'request_moderated' })
    expect((await failure(run(engine).result)).kind).toBe(moderation.request)
    emulator.script({ outcome: 'content_moderated' })
    expect((await failure(run(engine).result)).kind).toBe(moderation.content)
  })

  it('maps a refused key, an empty account, a rate limit and a rejected request, none of them lost', async () => {
    const hosted = [
      ['bad_key', 'unavailable'],
      ['no_credit', 'insufficient_credits'],
      ['rate_limited', 'rate_limited'],
      ['invalid', 'invalid'],
    ] as const
    // A local server has no account, and maybe no key or rate limit: only the refusals it has.
    const expected: readonly (readonly [Refusal, EngineErrorKind])[] = c.refusals
      ? (Object.entries(c.refusals) as [Refusal, EngineErrorKind][])
      : hosted
    expect(expected.length).toBeGreaterThan(0)
    for (const [refuse, kind] of expected) {
      emulator.script({ refuse, retryAfterS: 7 })
      const error = await failure(run(engine).result)
      expect([refuse, error.kind, error.submitLost]).toEqual([refuse, kind, false])
      if (kind === 'rate_limited') expect(error.retryAfterMs).toBe(7000)
    }
  })

  it('treats a 5xx to the submit as the provider documents it', async () => {
    emulator.script({ refuse: 'server_error' })
    const error = await failure(run(engine).result)
    if (c.serverError === 'not charged') expect([error.kind, error.submitLost]).toEqual(['unavailable', false])
    else expect([error.kind, error.submitLost]).toEqual(['failed', true])
  })

  it('never sends a submit again when its answer was lost', async () => {
    const before = emulator.submits.length
    const cancelsBefore = emulator.cancels.length
    // An engine that removes what its lost submit queued is seen doing it on a task that would not end.
    emulator.script(c.removesLostSubmit ? { dropSubmit: true, hang: true } : { dropSubmit: true })
    const error = await failure(run(engine).result)
    expect(error.submitLost).toBe(true)
    if (c.removesLostSubmit) {
      expect(error.message).toMatch(/removed/)
      await expect.poll(() => emulator.cancels.length).toBe(cancelsBefore + 1)
      await expect.poll(() => emulator.active()).toBe(0)
    } else expect(error.message).toMatch(/not re-sent|may (exist|still run)/)
    expect(emulator.submits.length - before).toBe(1)
  })

  it.runIf(c.polls)('waits out a blip while polling', async () => {
    emulator.script({ pollErrors: 2, pendingPolls: 1 })
    expect((await run(engine).result).images).toHaveLength(1)
  })

  it('stops when canceled, and cancels upstream where the provider can', async () => {
    const cancelsBefore = emulator.cancels.length
    emulator.script({ hang: true })
    const abort = new AbortController()
    const { result } = run(engine, abort.signal)
    const settled = failure(result)
    await expect.poll(() => emulator.active()).toBeGreaterThan(0)
    abort.abort()
    expect((await settled).kind).toBe('canceled')
    if (c.cancelsUpstream) await expect.poll(() => emulator.cancels.length).toBe(cancelsBefore + 1)
  })

  it('gives up on a task that never ends', async () => {
    const timed = c.create(emulator, { taskTimeoutMs: 300 })
    emulator.script({ hang: true })
    const error = await failure(run(timed).result)
    expect(error.kind).toBe('failed')
    // A synchronous provider's open request may still make (and bill) the image.
    if (!c.polls) expect(error.submitLost).toBe(true)
  })
})
