import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startImageServer } from '../helpers/image-server.js'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer
let images: Awaited<ReturnType<typeof startImageServer>>
beforeAll(async () => {
  // The image server is on loopback, which outbound fetches refuse unless allowed.
  server = await startTestServer({ FLUXHOST_ALLOW_PRIVATE_URLS: '1' })
  images = await startImageServer()
})
afterAll(async () => {
  await server.close()
  await images.close()
})

const generate = (body: unknown, headers: Record<string, string> = {}) =>
  api(`${server.url}/v2/images/generate`, { body, key: null, headers: { 'x-api-key': KEY_A, ...headers } })
const getJob = (id: string) => api(`${server.url}/v2/jobs/${id}`, { key: null, headers: { 'x-api-key': KEY_A } })

async function completed(id: string) {
  await server.waitForJob(id)
  return (await getJob(id)).body
}

describe('Apiframe v2: the seeds replayed', () => {
  it('seed 002: a 16:9 webp → 202 QUEUED, then COMPLETED with the image URL', async () => {
    const created = await generate({
      prompt: 'a futuristic city skyline at sunset, cyberpunk style',
      model: 'flux-1.1-pro',
      fluxParams: { aspect_ratio: '16:9', output_format: 'webp' },
    })
    expect(created.status).toBe(202)
    expect(created.body).toEqual({ jobId: expect.any(String), status: 'QUEUED' })
    const job = await completed(created.body.jobId)
    expect(job).toEqual({
      jobId: created.body.jobId,
      status: 'COMPLETED',
      model: 'flux-1.1-pro',
      result: {
        images: [{ url: expect.stringContaining('/files/'), width: 1344, height: 768 }],
        seed: expect.any(Number),
      },
      error: null,
      cost: 0.04,
      progress: 1,
      createdAt: expect.any(String),
      completedAt: expect.any(String),
    })
    const file = Buffer.from(await (await fetch(job.result.images[0].url)).arrayBuffer())
    expect(await sharp(file).metadata()).toMatchObject({ format: 'webp', width: 1344, height: 768 })
  })

  it('seed 003: image_prompt URL fetched by the server, strength, jpg at quality 90', async () => {
    const created = await generate({
      prompt: 'a sleek silver sports car on a coastal highway at sunset, hyper-realistic',
      model: 'flux-1.1-pro',
      fluxParams: {
        image_prompt: `${images.url}/input.jpg`,
        image_prompt_strength: 0.5,
        output_format: 'jpg',
        output_quality: 90,
      },
    })
    expect(created.status).toBe(202)
    const job = await server.waitForJob(created.body.jobId)
    expect(job).toMatchObject({
      state: 'succeeded',
      request: { imagePrompt: { strength: 0.5 }, output: { format: 'jpeg', quality: 90 }, width: 1024, height: 1024 },
    })
    expect(await server.fluxhost.blobs.stat(job.request.imagePrompt!.key)).toMatchObject({ contentType: 'image/jpeg' })
  })

  it('aspect ratios map to the documented sizes; custom takes width and height', async () => {
    const sizes: Record<string, [number, number]> = {
      '1:1': [1024, 1024],
      '3:4': [864, 1152],
      '4:3': [1152, 864],
      '9:16': [768, 1344],
      '16:9': [1344, 768],
    }
    for (const [ratio, [width, height]] of Object.entries(sizes)) {
      const { body } = await generate(
        { prompt: ratio, model: 'flux-1.1-pro', fluxParams: { aspect_ratio: ratio } },
        { 'x-fluxhost-simulate': 'request_moderated' },
      )
      const job = await server.waitForJob(body.jobId)
      expect([job.request.width, job.request.height], ratio).toEqual([width, height])
      expect((width % 32) + (height % 32)).toBe(0)
    }
    const custom = await generate({
      prompt: 'custom',
      model: 'flux-1.1-pro',
      fluxParams: { aspect_ratio: 'custom', width: 512, height: 384, seed: 9, raw: true, prompt_upsampling: true },
    })
    const job = await server.waitForJob(custom.body.jobId)
    expect(job.request).toMatchObject({ width: 512, height: 384, seed: 9, raw: true, promptUpsampling: false })
  })

  it('a failed job reads FAILED with its error and costs nothing; the job is also in the native API', async () => {
    const created = await generate({ prompt: 'fail', model: 'flux-1.1-pro' }, { 'x-fluxhost-simulate': 'error' })
    const job = await completed(created.body.jobId)
    expect(job).toMatchObject({ status: 'FAILED', result: null, error: { code: 'GENERATION_FAILED' }, cost: 0 })
    expect((await api(`${server.url}/api/jobs/${created.body.jobId}`)).body.dialect).toBe('apiframe')
  })
})

describe("errors in Apiframe's shape", () => {
  it.each([
    [{ model: 'flux-1.1-pro' }, 'prompt', 'missing'],
    [{ prompt: 'x' }, 'model', 'missing'],
    [{ prompt: 'x', model: 'flux-1.1-pro', fluxParams: { aspect_ratio: '2:1' } }, 'fluxParams.aspect_ratio', 'enum'],
    [{ prompt: 'x', model: 'flux-1.1-pro', fluxParams: { output_format: 'gif' } }, 'fluxParams.output_format', 'enum'],
    [
      { prompt: 'x', model: 'flux-1.1-pro', fluxParams: { output_quality: 101 } },
      'fluxParams.output_quality',
      'less_than_equal',
    ],
    [
      { prompt: 'x', model: 'flux-1.1-pro', fluxParams: { image_prompt_strength: 0.33 } },
      'fluxParams.image_prompt_strength',
      'multiple_of',
    ],
    [
      { prompt: 'x', model: 'flux-1.1-pro', fluxParams: { image_prompt_strength: 1.5 } },
      'fluxParams.image_prompt_strength',
      'less_than_equal',
    ],
    [
      { prompt: 'x', model: 'flux-1.1-pro', fluxParams: { aspect_ratio: 'custom', width: 1000 } },
      'fluxParams.width',
      'multiple_of',
    ],
    [{ prompt: 'x', model: 'flux-1.1-pro', fluxParams: { height: 2000 } }, 'fluxParams.height', 'less_than_equal'],
    [{ prompt: 'x', model: 'flux-1.1-pro', fluxParams: { seed: 'one' } }, 'fluxParams.seed', 'int_type'],
    [{ prompt: 'x', model: 'flux-1.1-pro', fluxParams: { raw: 1 } }, 'fluxParams.raw', 'bool_type'],
    [
      { prompt: 'x', model: 'flux-1.1-pro', fluxParams: { image_prompt: 'not a url' } },
      'fluxParams.image_prompt',
      'url_parsing',
    ],
    [{ prompt: 'x', model: 'flux-1.1-pro', fluxParams: 'big' }, 'fluxParams', 'dict_type'],
  ])('%j → 400 naming %s', async (body, field, type) => {
    const before = await server.fluxhost.store.jobs.countByState()
    const response = await generate(body)
    expect(response.status).toBe(400)
    expect(response.body.error.details).toContainEqual(expect.objectContaining({ field, type }))
    expect(await server.fluxhost.store.jobs.countByState()).toEqual(before)
  })

  it('0.15 is a valid step of 0.05 (floating point is compared with care)', async () => {
    expect(
      (
        await generate({
          prompt: 'x',
          model: 'flux-1.1-pro',
          fluxParams: { image_prompt_strength: 0.15, aspect_ratio: 'custom', width: 256, height: 256 },
        })
      ).status,
    ).toBe(202)
  })

  it('an unknown model is a 400 naming the models served', async () => {
    const response = await generate({ prompt: 'x', model: 'midjourney-v7' })
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('flux-1.1-pro'),
      details: [{ field: 'model' }],
    })
  })

  it('an image_prompt that cannot be fetched or is not an image is a 400 naming the field', async () => {
    for (const [url, reason] of [
      [`${images.url}/missing.jpg`, /HTTP 404/],
      [`${images.url}/not-an-image`, /Invalid image/],
      ['ftp://example.com/x.jpg', /only http and https/],
    ] as const) {
      const response = await generate({ prompt: 'x', model: 'flux-1.1-pro', fluxParams: { image_prompt: url } })
      expect(response.status, url).toBe(400)
      expect(response.body.error.details[0]).toMatchObject({
        field: 'fluxParams.image_prompt',
        message: expect.stringMatching(reason),
      })
    }
  })

  it('without FLUXHOST_ALLOW_PRIVATE_URLS a loopback image URL is refused', async () => {
    const strict = await startTestServer()
    try {
      const response = await api(`${strict.url}/v2/images/generate`, {
        key: null,
        headers: { 'x-api-key': KEY_A },
        body: { prompt: 'x', model: 'flux-1.1-pro', fluxParams: { image_prompt: `${images.url}/input.jpg` } },
      })
      expect(response.status).toBe(400)
      expect(response.body.error.details[0]).toMatchObject({
        field: 'fluxParams.image_prompt',
        type: 'url_fetch_error',
        message: expect.stringContaining('private or reserved'),
      })
    } finally {
      await strict.close()
    }
  })

  it('keys and unknown jobs', async () => {
    expect(
      (await api(`${server.url}/v2/images/generate`, { key: null, body: { prompt: 'x', model: 'flux-1.1-pro' } }))
        .status,
    ).toBe(401)
    const missing = await getJob('nope')
    expect(missing.status).toBe(404)
    expect(missing.body.error.code).toBe('JOB_NOT_FOUND')
  })
})
