import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load-config.js'
import { type BflScript, startBflEmulator } from '../emulators/bfl.js'
import { runCli } from '../helpers/child.js'
import { api, startTestServer, type TestServer } from '../helpers/server.js'

let emulator: Awaited<ReturnType<typeof startBflEmulator>>
let server: TestServer
const seen = new Map<string, number>()

/** The test decides each submit's fate from its prompt. */
function script(body: any): BflScript {
  const prompt = String(body.prompt)
  const n = seen.get(prompt) ?? 0
  seen.set(prompt, n + 1)
  if (prompt.startsWith('moderate output')) return { outcome: 'Content Moderated' }
  if (prompt.startsWith('moderate request')) return { outcome: 'Request Moderated' }
  if (prompt.startsWith('no credits')) return { submitStatus: 402 }
  if (prompt.startsWith('server error')) return { submitStatus: 500 }
  if (prompt.startsWith('busy') && n === 0) return { submitStatus: 429, submitHeaders: { 'retry-after': '1' } }
  if (prompt.startsWith('second refused') && n >= 1) return { submitStatus: 429 }
  if (prompt.startsWith('expired')) return { sampleTtlMs: 0 }
  if (prompt.startsWith('forever')) return { pendingPolls: 1_000_000 }
  return { pendingPolls: 3 }
}

beforeAll(async () => {
  emulator = await startBflEmulator({ apiKey: 'bfl-key', script })
  server = await startTestServer({
    FLUXHOST_BFL_API_KEY: 'bfl-key',
    FLUXHOST_BFL_URL: emulator.url,
    FLUXHOST_BFL_POLL_MS: '10',
    FLUXHOST_BFL_MAX_ACTIVE: '3',
    FLUXHOST_WORKER_CONCURRENCY: '8',
  })
})
afterAll(async () => {
  await server.close()
  await emulator.close()
})

const submit = (body: Record<string, unknown>) =>
  api(`${server.url}/v1/flux-pro-1.1`, { body: { width: 512, height: 256, ...body } })
const settle = async (id: string) => {
  const job = await server.waitForJob(id)
  return { job, bfl: (await api(`${server.url}/v1/get_result?id=${id}`)).body }
}

describe('the bfl engine against an emulated api.bfl.ai', () => {
  it('submits with x-key, polls the polling_url, downloads the sample into our store', async () => {
    const created = await submit({
      prompt: 'a lighthouse',
      output_format: 'png',
      seed: 9,
      prompt_upsampling: true,
      safety_tolerance: 4,
    })
    const { job, bfl } = await settle(created.body.id)
    expect(job).toMatchObject({ state: 'succeeded', engine: 'bfl' })
    expect(bfl.status).toBe('Ready')
    expect(bfl.result.prompt_upsampling).toEqual({ applied: true, by: 'engine' })
    const sent = emulator.submits.find((s) => s.body.prompt === 'a lighthouse')!
    expect(sent.headers['x-key']).toBe('bfl-key')
    expect(sent.body).toMatchObject({
      prompt: 'a lighthouse',
      width: 512,
      height: 256,
      seed: 9,
      prompt_upsampling: true,
      safety_tolerance: 4,
      output_format: 'png',
    })
    // The file is ours now (a fluxhost /files URL), byte for byte what BFL made.
    expect(bfl.result.sample).toContain(`${server.url}/files/`)
    const png = Buffer.from(await (await fetch(bfl.result.sample)).arrayBuffer())
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true })
    expect([info.width, info.height, data[0], data[1], data[2]]).toEqual([512, 256, 30, 120, 200])
  })

  it("records BFL's own cost next to ours: on the job, and per engine with the margin in admin usage", async () => {
    const created = await submit({ prompt: 'a granary' })
    const { job } = await settle(created.body.id)
    expect(job).toMatchObject({ state: 'succeeded', engine: 'bfl' })
    const native = (await api(`${server.url}/api/jobs/${created.body.id}`)).body
    // The emulator's submit says cost 4 (credits of $0.01); fluxhost's list price is $0.04.
    expect(native.result).toMatchObject({ upstreamCostUsd: 0.04, upstreamIds: [expect.stringMatching(/^emu-/)] })
    expect(native.result.engineAttempts).toEqual([{ engine: 'bfl' }])
    const usage = (await api(`${server.url}/api/admin/usage?days=1`)).body
    const bfl = usage.byEngine.find((e: { engine: string }) => e.engine === 'bfl')
    expect(bfl.pricedJobs).toBe(bfl.jobs)
    expect(Number(bfl.upstreamUsd)).toBeCloseTo(bfl.jobs * 0.04, 6)
    expect(bfl.marginUsd).toBe('0.00')
  })

  it('keeps the images made when a later one is refused: charged for those, not bought again', async () => {
    const created = await api(`${server.url}/api/jobs`, {
      body: { prompt: 'second refused, two lamps', width: 256, height: 256, numImages: 2 },
    })
    const job = await server.waitForJob(created.body.id)
    expect(job).toMatchObject({ state: 'succeeded', engine: 'bfl' })
    const native = (await api(`${server.url}/api/jobs/${created.body.id}`)).body
    expect(native.result.images).toHaveLength(1)
    expect(native.result.notHonoured).toEqual(['num_images'])
    // One of two images: half the price of two.
    expect(native.cost).toEqual({ usd: '0.04', charged: true })
    expect(emulator.submits.filter((s) => s.body.prompt === 'second refused, two lamps')).toHaveLength(2)
  })

  it("maps BFL's moderation to ours, uncharged", async () => {
    const before = (await api(`${server.url}/api/usage`)).body.total.jobs
    const output = await settle((await submit({ prompt: 'moderate output' })).body.id)
    const request = await settle((await submit({ prompt: 'moderate request' })).body.id)
    expect(output.bfl.status).toBe('Content Moderated')
    expect(request.bfl.status).toBe('Request Moderated')
    expect((await api(`${server.url}/api/usage`)).body.total.jobs).toBe(before)
  })

  it('402 ends the job as INSUFFICIENT_CREDITS (with no other engine to fail over to)', async () => {
    const { job } = await settle((await submit({ prompt: 'no credits' })).body.id)
    expect(job.error?.code).toBe('INSUFFICIENT_CREDITS')
  })

  it('a submit answered 5xx is never sent again: the task may exist and be billed', async () => {
    const { job } = await settle((await submit({ prompt: 'server error' })).body.id)
    expect(job.state).toBe('failed')
    expect(job.error?.message).toMatch(/not re-sent/)
    expect(emulator.submits.filter((s) => s.body.prompt === 'server error')).toHaveLength(1)
  })

  it('429 waits for Retry-After, then the job goes through', async () => {
    const { job } = await settle((await submit({ prompt: 'busy' })).body.id)
    expect(job.state).toBe('succeeded')
    const posts = emulator.submits.filter((s) => s.body.prompt === 'busy')
    expect(posts).toHaveLength(2)
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(950)
  })

  it('a sample URL that has expired before the download fails the job clearly', async () => {
    const { job } = await settle((await submit({ prompt: 'expired' })).body.id)
    expect(job.error?.message).toMatch(/could not be downloaded \(403\); its URL may have expired/)
  })

  it('never has more than FLUXHOST_BFL_MAX_ACTIVE tasks upstream', async () => {
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => submit({ prompt: `capped ${i}` })))
    const jobs = await Promise.all(created.map((c) => server.waitForJob(c.body.id)))
    expect(jobs.every((j) => j.state === 'succeeded')).toBe(true)
    expect(emulator.maxActive()).toBeLessThanOrEqual(3)
    expect(emulator.maxActive()).toBe(3)
  })

  it('cancel stops the job while BFL works on it, and says BFL cannot cancel upstream', async () => {
    const created = await submit({ prompt: 'forever' })
    await server.waitUntilRunning(created.body.id)
    const canceled = await api(`${server.url}/api/jobs/${created.body.id}/cancel`, { method: 'POST' })
    expect(canceled.body.state).toBe('canceled')
    expect(canceled.body.error.message).toMatch(
      /bfl cannot cancel a task: it may still finish there, and be billed there/,
    )
    expect((await server.waitForJob(created.body.id)).state).toBe('canceled')
  })
})

describe('ultra and dev through BFL', () => {
  it(
    'ultra goes to /v1/flux-pro-1.1-ultra with aspect_ratio, raw and image_prompt_strength; ' +
      'dev to /v1/flux-dev with steps and guidance',
    async () => {
      const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#0a0' } })
        .png()
        .toBuffer()
      const ultra = await api(`${server.url}/v1/flux-pro-1.1-ultra`, {
        body: {
          prompt: 'ultra wide',
          aspect_ratio: '21:9',
          raw: true,
          seed: 4,
          image_prompt: png.toString('base64'),
          image_prompt_strength: 0.25,
        },
      })
      expect(await server.waitForJob(ultra.body.id)).toMatchObject({ state: 'succeeded', engine: 'bfl' })
      const sentUltra = emulator.submits.find((s) => s.body.prompt === 'ultra wide')!
      expect(sentUltra.path).toBe('/v1/flux-pro-1.1-ultra')
      expect(sentUltra.body).toMatchObject({
        aspect_ratio: '21:9',
        raw: true,
        seed: 4,
        image_prompt_strength: 0.25,
        image_prompt: png.toString('base64'),
      })
      expect(sentUltra.body.width).toBeUndefined()

      const dev = await api(`${server.url}/v1/flux-dev`, {
        body: { prompt: 'dev steps', width: 512, height: 256, steps: 12, guidance: 2.5 },
      })
      expect(await server.waitForJob(dev.body.id)).toMatchObject({ state: 'succeeded', engine: 'bfl' })
      const sentDev = emulator.submits.find((s) => s.body.prompt === 'dev steps')!
      expect(sentDev.path).toBe('/v1/flux-dev')
      expect(sentDev.body).toMatchObject({ width: 512, height: 256, steps: 12, guidance: 2.5 })
      expect(sentDev.body.raw).toBeUndefined()
    },
  )
})

describe('routes and failover', () => {
  it('FLUXHOST_ROUTES=flux-pro-1.1=bfl,preview: a BFL out of credits hands the job to preview', async () => {
    const routed = await startTestServer({
      FLUXHOST_BFL_API_KEY: 'bfl-key',
      FLUXHOST_BFL_URL: emulator.url,
      FLUXHOST_BFL_POLL_MS: '10',
      FLUXHOST_ROUTES: 'flux-pro-1.1=bfl,preview',
    })
    try {
      expect(routed.fluxhost.routes['flux-pro-1.1']).toEqual(['bfl', 'preview'])
      const fine = await api(`${routed.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'a harbour', width: 256, height: 256 },
      })
      expect(await routed.waitForJob(fine.body.id)).toMatchObject({ state: 'succeeded', engine: 'bfl' })
      // Moderation is final: no failover.
      const moderated = await api(`${routed.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'moderate output, no failover', width: 256, height: 256 },
      })
      expect((await routed.waitForJob(moderated.body.id)).error?.code).toBe('CONTENT_MODERATED')
      const poor = await api(`${routed.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'no credits, fall over', width: 256, height: 256 },
      })
      expect(await routed.waitForJob(poor.body.id)).toMatchObject({ state: 'succeeded', engine: 'preview' })
      // The job records the failover.
      expect((await api(`${routed.url}/api/jobs/${poor.body.id}`)).body.result.engineAttempts).toEqual([
        {
          engine: 'bfl',
          error: { kind: 'insufficient_credits', message: 'the BFL account has no credits left (402)' },
        },
        { engine: 'preview' },
      ])
      // An account out of credit opens BFL's circuit: the next job does not wait on it.
      const next = await api(`${routed.url}/v1/flux-pro-1.1`, { body: { prompt: 'a pier', width: 256, height: 256 } })
      expect(await routed.waitForJob(next.body.id)).toMatchObject({ state: 'succeeded', engine: 'preview' })
      expect((await api(`${routed.url}/api/jobs/${next.body.id}`)).body.result.engineAttempts).toEqual([
        { engine: 'bfl', skipped: 'circuit open (insufficient_credits)' },
        { engine: 'preview' },
      ])
      expect(emulator.submits.filter((s) => s.body.prompt === 'a pier')).toHaveLength(0)
    } finally {
      await routed.close()
    }
  })

  it('refuses routes it cannot honour, naming the variable', () => {
    expect(() => loadConfig({ FLUXHOST_ROUTES: 'flux-pro-1.1=bfl' })).toThrow(
      /FLUXHOST_ROUTES names bfl, but FLUXHOST_BFL_API_KEY is not set/,
    )
    expect(() => loadConfig({ FLUXHOST_ROUTES: 'flux-pro-1.1=comfy' })).toThrow(
      /FLUXHOST_ROUTES unknown engine 'comfy'/,
    )
    expect(() => loadConfig({ FLUXHOST_ROUTES: 'flux-9=preview' })).toThrow(/unknown model 'flux-9'/)
    expect(loadConfig({ FLUXHOST_BFL_API_KEY: 'k', FLUXHOST_BFL_URL: 'eu' }).bfl?.url).toBe('https://api.eu.bfl.ai')
    expect(loadConfig({ FLUXHOST_BFL_API_KEY: 'k', FLUXHOST_BFL_URL: 'US' }).bfl?.url).toBe('https://api.us.bfl.ai')
    expect(loadConfig({ FLUXHOST_BFL_API_KEY: 'k' }).bfl?.url).toBe('https://api.bfl.ai')
    expect(() => loadConfig({ FLUXHOST_BFL_URL: 'mars' })).toThrow(/FLUXHOST_BFL_URL/)
  })
})

describe('engine checks', () => {
  it('/api/models shows each engine and whether it is reachable', async () => {
    const models = await api(`${server.url}/api/models`, { key: null })
    expect(models.body.data[0]).toMatchObject({
      id: 'flux-pro-1.1',
      engines: ['bfl'],
      engineStatus: [{ name: 'bfl', reachable: true, detail: 'credits 1234.5' }],
    })
  })

  it('fluxhost doctor checks the configured engines; exit 1 when a model has none that works', async () => {
    const env = { ...server.recordsEnv, FLUXHOST_BFL_URL: emulator.url, FLUXHOST_ROUTES: 'flux-pro-1.1=bfl,preview' }
    const ok = await runCli(['doctor'], { ...env, FLUXHOST_BFL_API_KEY: 'bfl-key' })
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/flux-pro-1\.1\s+1\. bfl\s+ok\s+\$0\.04\s+credits 1234\.5/)
    expect(ok.stdout).toMatch(/2\. preview\s+ok\s+built in/)
    const refused = await runCli(['doctor', '--json'], {
      ...env,
      FLUXHOST_BFL_API_KEY: 'wrong',
      FLUXHOST_ROUTES: 'flux-pro-1.1=bfl',
    })
    expect(refused.code).toBe(1)
    // Models the routes leave out go to the configured engines (here bfl) too.
    const refusedBfl = (priceUsd: number) => ({
      policy: 'failover',
      engines: [{ name: 'bfl', reachable: false, detail: 'key refused (403)', priceUsd }],
    })
    expect(JSON.parse(refused.stdout)).toEqual([
      { model: 'flux-pro-1.1', ...refusedBfl(0.04) },
      { model: 'flux-pro-1.1-ultra', ...refusedBfl(0.06) },
      { model: 'flux-dev', ...refusedBfl(0.025) },
    ])
    expect(refused.stderr).toContain('no reachable engine for flux-pro-1.1')
  })
})
