import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type SdcppScript, startSdcppEmulator } from '../emulators/sdcpp.js'
import { runCli } from '../helpers/child.js'
import { api, startTestServer, type TestServer } from '../helpers/server.js'

let sd: Awaited<ReturnType<typeof startSdcppEmulator>>
let server: TestServer
const seen = new Map<string, number>()

/** The test decides each submit's fate from its prompt. */
function script(body: any): SdcppScript {
  const prompt = String(body.prompt)
  const n = seen.get(prompt) ?? 0
  seen.set(prompt, n + 1)
  if (prompt.startsWith('queue full') && n === 0) return { submitStatus: 429, submitHeaders: { 'retry-after': '1' } }
  if (prompt.startsWith('lost once') && n === 0) return { lose: true }
  if (prompt.startsWith('lost always')) return { lose: true }
  if (prompt.startsWith('fail')) return { outcome: 'failed' }
  if (prompt.startsWith('bad request')) return { submitStatus: 400 }
  if (prompt.startsWith('slow')) return { steps: 100_000, stepMs: 20 }
  if (prompt.startsWith('a copper kettle')) return { steps: 4, stepMs: 200 }
  return {}
}

beforeAll(async () => {
  sd = await startSdcppEmulator({ script, stepMs: 2 })
  server = await startTestServer({
    FLUXHOST_SDCPP_URL: sd.url,
    FLUXHOST_SDCPP_MAX_QUEUED: '2',
    FLUXHOST_WORKER_CONCURRENCY: '6',
  })
})
afterAll(async () => {
  await server?.close()
  await sd?.close()
})

const submit = (body: Record<string, unknown>, url = server.url) =>
  api(`${url}/v1/flux-pro-1.1`, { body: { width: 512, height: 256, ...body } })
const settle = async (prompt: string, extra: Record<string, unknown> = {}) =>
  server.waitForJob((await submit({ prompt, ...extra })).body.id)

describe('the sdcpp engine against an emulated sd-server', () => {
  it('submits to /sdcpp/v1/img_gen, polls the job, decodes its images', async () => {
    const progress: number[] = []
    const created = await submit({ prompt: 'a copper kettle', seed: 12, output_format: 'png' })
    const unsubscribe = server.fluxhost.services.jobs.subscribe(created.body.id, (event) => {
      if (event.type === 'progress') progress.push(event.progress)
    })
    const job = await server.waitForJob(created.body.id)
    unsubscribe()
    expect(job).toMatchObject({ state: 'succeeded', engine: 'sdcpp' })
    const body = sd.submits.at(-1)
    expect(body).toMatchObject({
      prompt: 'a copper kettle',
      width: 512,
      height: 256,
      seed: 12,
      batch_count: 1,
      output_format: 'png',
      sample_params: { sample_method: 'euler', guidance: { txt_cfg: 1, distilled_guidance: 3.5 } },
    })
    // No steps configured or requested: sd-server's own default (its --steps).
    expect(body.sample_params.sample_steps).toBeUndefined()
    expect(body.init_image).toBeUndefined()
    const result = (await api(`${server.url}/api/jobs/${created.body.id}`)).body.result
    const meta = await sharp(Buffer.from(await (await fetch(result.images[0].url)).arrayBuffer())).metadata()
    expect(meta).toMatchObject({ width: 512, height: 256, format: 'png' })
    // Step counters while generating became the job's progress.
    expect(progress.some((p) => p > 0 && p < 1)).toBe(true)
    expect(progress.at(-1)).toBe(1)
  })

  it('a full queue (429) is waited out per Retry-After, then the job goes through', async () => {
    const job = await settle('queue full, wait')
    expect(job).toMatchObject({ state: 'succeeded', engine: 'sdcpp' })
    expect(sd.submits.filter((s) => s.prompt === 'queue full, wait')).toHaveLength(2)
  })

  it('a job sd-server lost (410) is submitted again once; lost twice, the job fails saying so', async () => {
    expect(await settle('lost once')).toMatchObject({ state: 'succeeded' })
    expect(sd.submits.filter((s) => s.prompt === 'lost once')).toHaveLength(2)
    const twice = await settle('lost always')
    expect(twice.error).toEqual({
      code: 'GENERATION_FAILED',
      message: 'sd-server no longer knows the job (410), again after submitting it a second time',
    })
    expect(sd.submits.filter((s) => s.prompt === 'lost always')).toHaveLength(2)
  })

  it("sd-server's failures and refusals end the job with its message", async () => {
    expect((await settle('fail please')).error).toEqual({
      code: 'GENERATION_FAILED',
      message: 'sd-server failed the job: generate_image returned empty results',
    })
    expect((await settle('bad request')).error).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'sd-server rejected the request: emulated 400',
    })
  })

  it('an image prompt goes as init_image with strength = 1 − image prompt strength', async () => {
    const guide = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } })
      .png()
      .toBuffer()
    const created = await api(`${server.url}/api/jobs`, {
      body: {
        prompt: 'a blue door',
        width: 256,
        height: 256,
        numImages: 2,
        imagePrompt: { data: guide.toString('base64'), strength: 0.8 },
      },
    })
    expect(await server.waitForJob(created.body.id)).toMatchObject({ state: 'succeeded' })
    const body = sd.submits.at(-1)
    expect(body.strength).toBe(0.2)
    expect(body.batch_count).toBe(2)
    expect((await sharp(Buffer.from(body.init_image, 'base64')).metadata()).width).toBe(64)
    expect((await api(`${server.url}/api/jobs/${created.body.id}`)).body.result.images).toHaveLength(2)
  })

  it('ultra goes to sd-server at its ~4 MP size', async () => {
    const created = await api(`${server.url}/v1/flux-pro-1.1-ultra`, {
      body: { prompt: 'ultra square', aspect_ratio: '1:1' },
    })
    expect(await server.waitForJob(created.body.id)).toMatchObject({ state: 'succeeded', engine: 'sdcpp' })
    expect(sd.submits.at(-1)).toMatchObject({ prompt: 'ultra square', width: 2048, height: 2048 })
  })

  it('cancel while generating cancels the sd-server job', async () => {
    const created = await submit({ prompt: 'slow, cancel me' })
    await sd.until(() => sd.jobs.some((j) => j.body.prompt === 'slow, cancel me' && j.status === 'generating'))
    const canceled = await api(`${server.url}/api/jobs/${created.body.id}/cancel`, { method: 'POST' })
    expect(canceled.body.state).toBe('canceled')
    const upstream = sd.jobs.find((j) => j.body.prompt === 'slow, cancel me')!
    await sd.until(() => upstream.status === 'cancelled')
    expect(sd.cancels).toContain(upstream.id)
  })

  it('never keeps more than FLUXHOST_SDCPP_MAX_QUEUED jobs in sd-server', async () => {
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, i) => submit({ prompt: `capped ${i}`, width: 256, height: 256 })),
    )
    const jobs = await Promise.all(created.map((c) => server.waitForJob(c.body.id)))
    expect(jobs.every((j) => j.state === 'succeeded')).toBe(true)
    expect(sd.maxInQueue()).toBeLessThanOrEqual(2)
  })

  it('FLUXHOST_SDCPP_STEPS sets sample_steps; doctor shows the loaded model', async () => {
    const stepped = await startTestServer({ FLUXHOST_SDCPP_URL: sd.url, FLUXHOST_SDCPP_STEPS: '4' })
    try {
      expect(await stepped.waitForJob((await submit({ prompt: 'four steps' }, stepped.url)).body.id)).toMatchObject({
        state: 'succeeded',
      })
      expect(sd.submits.at(-1).sample_params.sample_steps).toBe(4)
    } finally {
      await stepped.close()
    }
    const doctor = await runCli(['doctor'], { ...server.recordsEnv, FLUXHOST_SDCPP_URL: sd.url })
    expect(doctor.code, doctor.stderr).toBe(0)
    expect(doctor.stdout).toMatch(/flux-pro-1\.1\s+1\. sdcpp\s+ok\s+sd-server with flux1-schnell-q8_0, queue 64/)
  })
})
