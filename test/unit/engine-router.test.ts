import { describe, expect, it } from 'vitest'
import { routes } from '../../src/config/parsers.js'
import { apiUrl } from '../../src/engines/api-url.js'
import { createCircuit } from '../../src/engines/circuit.js'
import type { EngineTask, ImageEngine } from '../../src/engines/engine.js'
import { EngineError, keepsMade } from '../../src/engines/engine-error.js'
import { pollUntil } from '../../src/engines/poll.js'
import { createEngineRouter, type Route, RoutedEngineError } from '../../src/engines/router.js'

const task: EngineTask = {
  jobId: 'job-1',
  model: 'flux-pro-1.1',
  prompt: 'a lighthouse',
  width: 512,
  height: 512,
  seed: 1,
  numImages: 1,
  promptUpsampling: false,
  raw: false,
  safetyTolerance: 2,
  output: { format: 'png', quality: 90 },
}
const ctx = () => ({ signal: new AbortController().signal, progress: () => undefined })

/** An engine whose next outcomes the test sets: an error to throw, or success. */
function fake(name: string, options: { local?: boolean; duplicateHarmless?: boolean } = {}) {
  const outcomes: (EngineError | 'ok')[] = []
  let calls = 0
  const engine: ImageEngine = {
    name,
    local: options.local ?? false,
    duplicateHarmless: options.duplicateHarmless,
    supports: () => true,
    async generate() {
      calls++
      const next = outcomes.shift() ?? 'ok'
      if (next !== 'ok') throw next
      return { images: [{ kind: 'encoded', data: Buffer.from(name) }] }
    },
  }
  return Object.assign(engine, { outcomes, calls: () => calls })
}

const route = (policy: Route['policy'], engines: ImageEngine[], weights?: Record<string, number>) => ({
  'flux-pro-1.1': { policy, engines, ...(weights ? { weights } : {}) },
})

describe('the engine router', () => {
  it('fails over on what the provider did not charge for, and names every engine tried', async () => {
    const a = fake('fal')
    const b = fake('replicate')
    const c = fake('together')
    a.outcomes.push(new EngineError('insufficient_credits', 'fal is out of credit'))
    b.outcomes.push(new EngineError('invalid', 'replicate rejected the request (422)'))
    const router = createEngineRouter(route('failover', [a, b, c]))
    const out = await router.generate(task, ctx())
    expect(out.engine).toBe('together')
    expect(out.attempts.map((attempt) => [attempt.engine, attempt.error?.kind])).toEqual([
      ['fal', 'insufficient_credits'],
      ['replicate', 'invalid'],
      ['together', undefined],
    ])
  })

  it('never fails over from a lost submit to a paid provider, and names its request id', async () => {
    const a = fake('fal')
    const b = fake('replicate')
    a.outcomes.push(new EngineError('failed', 'fal did not answer', { submitLost: true, requestId: 'req-77' }))
    const router = createEngineRouter(route('failover', [a, b]))
    const error = await router.generate(task, ctx()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RoutedEngineError)
    expect((error as RoutedEngineError).message).toMatch(/fal request req-77/)
    expect(b.calls()).toBe(0)
  })

  it('fails over from a lost submit where a duplicate is harmless (a local GPU)', async () => {
    const a = fake('comfyui', { local: true, duplicateHarmless: true })
    const b = fake('sdcpp', { local: true })
    a.outcomes.push(new EngineError('failed', 'ComfyUI did not answer', { submitLost: true }))
    expect((await createEngineRouter(route('failover', [a, b])).generate(task, ctx())).engine).toBe('sdcpp')
  })

  it('keeps moderation final: another provider is not asked to make what one refused', async () => {
    const a = fake('fal')
    const b = fake('replicate')
    a.outcomes.push(new EngineError('request_moderated', 'flagged'))
    const router = createEngineRouter(route('failover', [a, b]))
    await expect(router.generate(task, ctx())).rejects.toMatchObject({ kind: 'request_moderated', engine: 'fal' })
    expect(b.calls()).toBe(0)
  })

  it('opens the circuit on a 429 and skips the engine for later jobs until it may probe again', async () => {
    let now = 1_000_000
    const a = fake('fal')
    const b = fake('replicate')
    a.outcomes.push(new EngineError('rate_limited', 'fal 429', { retryAfterMs: 60_000 }))
    const router = createEngineRouter(route('failover', [a, b]), { now: () => now })
    expect((await router.generate(task, ctx())).engine).toBe('replicate')
    const second = await router.generate(task, ctx())
    expect(second.attempts[0]).toEqual({ engine: 'fal', skipped: 'circuit open (rate_limited)' })
    expect(a.calls()).toBe(1)
    expect(router.health().fal).toMatchObject({ state: 'open', reason: 'rate_limited' })
    now += 60_001
    expect((await router.generate(task, ctx())).engine).toBe('fal')
    expect(router.health().fal).toMatchObject({ state: 'closed' })
  })

  it('tries the engine that reopens first when every circuit is open, rather than failing the job', async () => {
    const a = fake('fal')
    a.outcomes.push(new EngineError('insufficient_credits', 'no credit'), new EngineError('unavailable', 'down'))
    const router = createEngineRouter(route('failover', [a]))
    await expect(router.generate(task, ctx())).rejects.toMatchObject({ kind: 'insufficient_credits' })
    await expect(router.generate(task, ctx())).rejects.toMatchObject({ kind: 'unavailable' })
    expect(a.calls()).toBe(2)
  })

  it('orders by price with `cheapest`, and by measured median time with `fastest`', async () => {
    const a = fake('fal')
    const b = fake('replicate')
    const prices: Record<string, number> = { fal: 0.05, replicate: 0.03 }
    const cheap = createEngineRouter(route('cheapest', [a, b]), { priceOf: (engine) => prices[engine] })
    expect((await cheap.generate(task, ctx())).engine).toBe('replicate')

    const fastest = createEngineRouter(route('fastest', [a, b]))
    // Unmeasured engines go first in turn until each has three samples.
    for (let i = 0; i < 6; i++) await fastest.generate(task, ctx())
    expect(fastest.health().fal?.samples).toBeGreaterThan(0)
    expect(fastest.health().replicate?.samples).toBeGreaterThan(0)
  })

  it('spreads first tries by weight with `weighted`', async () => {
    const a = fake('fal')
    const b = fake('replicate')
    const draws = [0.1, 0.5, 0.74, 0.76, 0.9, 0.99]
    const router = createEngineRouter(route('weighted', [a, b], { fal: 3, replicate: 1 }), {
      random: () => draws.shift() ?? 0,
    })
    const firsts: string[] = []
    for (let i = 0; i < 6; i++) firsts.push((await router.generate(task, ctx())).engine)
    expect(firsts).toEqual(['fal', 'fal', 'fal', 'replicate', 'replicate', 'replicate'])
  })
})

describe('the circuit breaker', () => {
  it('opens after consecutive unavailable outcomes and lets one probe through when the time is up', () => {
    let now = 0
    const circuit = createCircuit({ threshold: 2, openMs: 1000, now: () => now })
    circuit.failure('unavailable')
    expect(circuit.allow()).toBe(true)
    circuit.failure('unavailable')
    expect(circuit.allow()).toBe(false)
    now = 1000
    expect(circuit.allow()).toBe(true)
    expect(circuit.allow()).toBe(false)
    circuit.failure('unavailable')
    expect(circuit.state()).toBe('open')
    now = 2000
    expect(circuit.allow()).toBe(true)
    circuit.success()
    expect(circuit.state()).toBe('closed')
  })
})

describe('FLUXHOST_ROUTES', () => {
  it('takes a policy per model, and weights only for `weighted`', () => {
    expect(
      routes('flux-pro-1.1=cheapest:fal,replicate;flux-dev=weighted:fal=3,replicate=1;flux-pro-1.1-ultra=bfl'),
    ).toEqual({
      'flux-pro-1.1': { policy: 'cheapest', engines: ['fal', 'replicate'] },
      'flux-dev': { policy: 'weighted', engines: ['fal', 'replicate'], weights: { fal: 3, replicate: 1 } },
      'flux-pro-1.1-ultra': { policy: 'failover', engines: ['bfl'] },
    })
    expect(() => routes('flux-pro-1.1=cheapest:fal=2')).toThrow(/only for the weighted policy/)
    expect(() => routes('flux-pro-1.1=quickest:fal')).toThrow(/unknown routing policy 'quickest'/)
    expect(() => routes('flux-pro-1.1=weighted:fal=0')).toThrow(/weight above 0/)
    expect(() => routes('flux-pro-1.1=fal,fal')).toThrow(/listed twice/)
  })
})

describe('the rules after a provider accepted a task', () => {
  it('ends a poll refused for the account or the request as lost, never a failover', async () => {
    const error = await pollUntil(
      async () => {
        throw new EngineError('insufficient_credits', 'the account cannot pay (402)')
      },
      { signal: new AbortController().signal, minMs: 1, maxMs: 1, timeoutMs: 10_000, what: "fal's request" },
    ).catch((e: unknown) => e as EngineError)
    expect([error.kind, error.submitLost]).toEqual(['failed', true])
    expect(error.message).toMatch(/while following fal's request/)
  })

  it('keeps the images a multi-image job already made when a later one fails, instead of buying them again', () => {
    const refused = new EngineError('rate_limited', 'BFL 429', { retryAfterMs: 5000 })
    expect(keepsMade(refused, 0)).toBe(false)
    expect(keepsMade(refused, 1)).toBe(true)
    expect(keepsMade(new EngineError('content_moderated', 'flagged'), 2)).toBe(true)
    expect(keepsMade(new EngineError('canceled', 'aborted'), 1)).toBe(false)
    expect(keepsMade(new Error('not an engine error'), 1)).toBe(false)
  })

  it("sends a request for a URL from a provider's answer only to the base or a documented host", () => {
    const bfl = (host: string) => /(^|\.)bfl\.ai$/.test(host)
    // A hostile host, a relative value that would change the host, plain http: to the base, by path.
    expect(apiUrl('https://api.bfl.ai', 'http://169.254.169.254/latest/meta-data', bfl)).toBe(
      'https://api.bfl.ai/latest/meta-data',
    )
    expect(apiUrl('https://api.bfl.ai', '.evil.example/x', bfl)).toBe('https://api.bfl.ai/x')
    expect(apiUrl('https://api.bfl.ai', '@evil.example/x', bfl)).toBe('https://api.bfl.ai/x')
    expect(apiUrl('https://api.bfl.ai', 'http://api.bfl.ai/v1/get_result?id=1')).toBe(
      'https://api.bfl.ai/v1/get_result?id=1',
    )
    // BFL's regional cluster, over https: as given.
    expect(apiUrl('https://api.bfl.ai', 'https://api.eu1.bfl.ai/v1/get_result?id=1', bfl)).toBe(
      'https://api.eu1.bfl.ai/v1/get_result?id=1',
    )
    // A proxy as the base: the provider's own URLs go through it.
    expect(apiUrl('https://proxy.internal/replicate', 'https://api.replicate.com/v1/predictions/p1')).toBe(
      'https://proxy.internal/replicate/v1/predictions/p1',
    )
    expect(apiUrl('http://127.0.0.1:9/model', 'http://127.0.0.1:9/model/v1/queue/x/status')).toBe(
      'http://127.0.0.1:9/model/v1/queue/x/status',
    )
  })

  it('lets the most hopeful outcome decide a job every engine passed on', async () => {
    const a = fake('bfl')
    const b = fake('fal')
    a.outcomes.push(new EngineError('rate_limited', 'BFL 429', { retryAfterMs: 3000 }))
    b.outcomes.push(new EngineError('invalid', 'fal 422'))
    const error = (await createEngineRouter(route('failover', [a, b]))
      .generate(task, ctx())
      .catch((e: unknown) => e)) as RoutedEngineError
    expect([error.kind, error.engine, error.retryAfterMs]).toEqual(['rate_limited', 'bfl', 3000])
  })

  it('passes over an engine that takes no image prompt for this model', async () => {
    const fal = Object.assign(fake('fal'), { takesImagePrompt: (model: string) => model === 'flux-pro-1.1-ultra' })
    const bfl = fake('bfl')
    const router = createEngineRouter(route('failover', [fal, bfl]))
    const out = await router.generate({ ...task, imagePrompt: { data: Buffer.from('x'), strength: 0.1 } }, ctx())
    expect(out.attempts).toEqual([{ engine: 'fal', skipped: 'takes no image prompt' }, { engine: 'bfl' }])
    expect(router.refusal('flux-pro-1.1', { imagePrompt: true })).toBeUndefined()
    const onlyFal = createEngineRouter(route('failover', [fal]))
    expect(onlyFal.refusal('flux-pro-1.1', { imagePrompt: true })).toMatch(/served here by fal, which take no image/)
  })
})

describe('the circuit breaker, bounded', () => {
  it('keeps a Retry-After of a day to 5 minutes, and lets a new probe go after a minute', () => {
    let now = 0
    const circuit = createCircuit({ now: () => now })
    circuit.failure('rate_limited', 86_400_000)
    now = 5 * 60_000
    expect(circuit.allow()).toBe(true)
    expect(circuit.allow()).toBe(false)
    now += 60_000
    expect(circuit.allow()).toBe(true)
  })
})
