import OpenAI from 'openai'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, KEY_A, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer
beforeAll(async () => {
  // Generous: every synchronous request here must finish inside it on a loaded machine; the
  // 504 test has a server of its own.
  server = await startTestServer({ FLUXHOST_SYNC_TIMEOUT_S: '30' })
})
afterAll(async () => {
  await server.close()
})

const generate = (body: unknown, headers: Record<string, string> = {}, key = KEY_B) =>
  api(`${server.url}/v1/images/generations`, {
    body,
    key: null,
    headers: { authorization: `Bearer ${key}`, ...headers },
  })

describe('AIML images: the seed replayed', () => {
  it("seed 004's schema example → 201 with every documented field, and OpenAI's created/data", async () => {
    const response = await generate({
      model: 'flux-pro/v1.1',
      image_size: 'landscape_4_3',
      safety_tolerance: '2',
      output_format: 'jpeg',
      prompt: 'text',
      num_images: 1,
      seed: 1,
      enable_safety_checker: true,
    })
    expect(response.status).toBe(201)
    expect(response.body).toEqual({
      images: [{ url: expect.stringContaining('/files/'), width: 1024, height: 768, content_type: 'image/jpeg' }],
      timings: { inference: expect.any(Number), encode: expect.any(Number) },
      seed: 1,
      has_nsfw_concepts: [false],
      prompt: 'text',
      created: expect.any(Number),
      data: [{ url: response.body.images[0].url }],
    })
    expect(response.body.timings.inference).toBeGreaterThan(0)
    expect(response.body.timings.encode).toBeGreaterThan(0)
  })

  it("seed 004's Python example: image_size {width: 1024, height: 320}", async () => {
    const response = await generate({
      prompt: 'Rabbit singing',
      model: 'flux-pro/v1.1',
      image_size: { width: 1024, height: 320 },
    })
    expect(response.status).toBe(201)
    expect(response.body.images[0]).toMatchObject({ width: 1024, height: 320, content_type: 'image/jpeg' })
    const file = Buffer.from(await (await fetch(response.body.images[0].url)).arrayBuffer())
    expect(await sharp(file).metadata()).toMatchObject({ width: 1024, height: 320 })
  })

  it('every named image_size, numeric safety_tolerance and png', async () => {
    const sizes = {
      square_hd: [1024, 1024],
      square: [512, 512],
      portrait_4_3: [768, 1024],
      portrait_16_9: [576, 1024],
      landscape_4_3: [1024, 768],
      landscape_16_9: [1024, 576],
    }
    for (const [name, [width, height]] of Object.entries(sizes)) {
      const { body } = await generate({
        prompt: name,
        model: 'flux-pro/v1.1',
        image_size: name,
        safety_tolerance: 5,
        output_format: 'png',
      })
      expect(body.images[0], name).toMatchObject({ width, height, content_type: 'image/png' })
    }
  })

  it('num_images 4: four stored images, charged four times, in usage by model and day', async () => {
    const before = (await api(`${server.url}/api/usage`, { key: KEY_A })).body
    const response = await generate(
      { prompt: 'four', model: 'flux-pro/v1.1', image_size: 'square', num_images: 4 },
      {},
      KEY_A,
    )
    expect(response.body.images).toHaveLength(4)
    expect(response.body.data).toHaveLength(4)
    expect(response.body.has_nsfw_concepts).toEqual([false, false, false, false])
    expect(new Set(response.body.images.map((i: { url: string }) => i.url)).size).toBe(4)
    const after = (await api(`${server.url}/api/usage`, { key: KEY_A })).body
    expect(after.window.images - before.window.images).toBe(4)
    expect(Number(after.window.usd) - Number(before.window.usd)).toBeCloseTo(0.16, 6)
    const today = new Date().toISOString().slice(0, 10)
    expect(after.daily).toContainEqual(expect.objectContaining({ day: today, model: 'flux-pro-1.1' }))
    expect(after.byModel).toContainEqual(
      expect.objectContaining({ model: 'flux-pro-1.1', images: after.window.images }),
    )
  })
})

describe("OpenAI's client, unchanged", () => {
  const client = () => new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY_A })

  it('images.generate returns URLs', async () => {
    const result = await client().images.generate({ model: 'flux-pro/v1.1', prompt: 'a lighthouse at dusk' })
    expect(result.created).toBeGreaterThan(0)
    expect(result.data).toHaveLength(1)
    expect(await fetch(result.data![0]!.url!).then((r) => r.arrayBuffer().then(() => r.status))).toBe(200)
  })

  it('n, size and response_format b64_json', async () => {
    const result = await client().images.generate({
      model: 'flux-pro/v1.1',
      prompt: 'two',
      n: 2,
      size: '512x512' as never,
      response_format: 'b64_json',
    })
    expect(result.data).toHaveLength(2)
    const meta = await sharp(Buffer.from(result.data![0]!.b64_json!, 'base64')).metadata()
    expect(meta).toMatchObject({ width: 512, height: 512 })
  })

  it('errors surface as OpenAI errors with status, code and param', async () => {
    const error = await client()
      .images.generate({ model: 'dall-e-3', prompt: 'x' })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    expect(error).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', param: 'model' })
    const auth = await new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'wrong' }).images
      .generate({ model: 'flux-pro/v1.1', prompt: 'x' })
      .catch((e: unknown) => e)
    expect(auth).toBeInstanceOf(OpenAI.AuthenticationError)
  })
})

describe("errors in AIML's (OpenAI's) shape", () => {
  it.each([
    [{ prompt: 'x' }, 'model', 'missing'],
    [{ model: 'flux-pro/v1.1' }, 'prompt', 'missing'],
    [{ model: 'flux-pro/v1.1', prompt: 'x'.repeat(4001) }, 'prompt', 'string_too_long'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', image_size: 'huge' }, 'image_size', 'value_error'],
    [
      { model: 'flux-pro/v1.1', prompt: 'x', image_size: { width: 1000, height: 512 } },
      'image_size.width',
      'multiple_of',
    ],
    [
      { model: 'flux-pro/v1.1', prompt: 'x', image_size: { width: 512, height: 2048 } },
      'image_size.height',
      'less_than_equal',
    ],
    [{ model: 'flux-pro/v1.1', prompt: 'x', image_size: { width: 512 } }, 'image_size', 'value_error'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', size: 'big' }, 'size', 'value_error'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', size: '100x100' }, 'size', 'greater_than_equal'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', safety_tolerance: '7' }, 'safety_tolerance', 'enum'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', safety_tolerance: 0 }, 'safety_tolerance', 'enum'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', output_format: 'webp' }, 'output_format', 'enum'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', num_images: 5 }, 'num_images', 'less_than_equal'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', num_images: 0 }, 'num_images', 'greater_than_equal'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', seed: 0 }, 'seed', 'greater_than_equal'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', enable_safety_checker: 'yes' }, 'enable_safety_checker', 'bool_type'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', response_format: 'png' }, 'response_format', 'enum'],
  ])('%j → 400 naming %s', async (body, param, type) => {
    const response = await generate(body)
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({ type: 'invalid_request_error', code: 'VALIDATION_FAILED' })
    expect(response.body.error.details).toContainEqual(expect.objectContaining({ field: param, type }))
  })

  it('a moderated or failed job answers with its error', async () => {
    const moderated = await generate(
      { model: 'flux-pro/v1.1', prompt: 'x', image_size: 'square' },
      { 'x-fluxhost-simulate': 'request_moderated' },
    )
    expect(moderated.status).toBe(400)
    expect(moderated.body.error.code).toBe('REQUEST_MODERATED')
    const failed = await generate(
      { model: 'flux-pro/v1.1', prompt: 'x', image_size: 'square' },
      { 'x-fluxhost-simulate': 'error' },
    )
    expect(failed.status).toBe(500)
    expect(failed.body.error).toMatchObject({ code: 'GENERATION_FAILED', type: 'api_error' })
  })
})

describe('waiting', () => {
  it('past FLUXHOST_SYNC_TIMEOUT_S: 504 naming the job and where to fetch it; the job goes on', async () => {
    const short = await startTestServer({ FLUXHOST_SYNC_TIMEOUT_S: '1' })
    try {
      const response = await api(`${short.url}/v1/images/generations`, {
        body: { model: 'flux-pro/v1.1', prompt: 'slow', image_size: 'square' },
        key: null,
        headers: { authorization: `Bearer ${KEY_A}`, 'x-fluxhost-simulate': 'slow=3000' },
      })
      expect(response.status).toBe(504)
      expect(response.body.error).toMatchObject({
        code: 'SYNC_TIMEOUT',
        type: 'timeout_error',
        job_id: expect.any(String),
        url: expect.stringContaining('/api/jobs/'),
      })
      const job = await short.waitForJob(response.body.error.job_id)
      expect(job.state).toBe('succeeded')
      expect((await api(response.body.error.url)).body.state).toBe('succeeded')
    } finally {
      await short.close()
    }
  })

  it('a client that hangs up does not cancel the job', async () => {
    const controller = new AbortController()
    const seen = new Promise<string>((resolve) => {
      const list = async () =>
        (await api(`${server.url}/api/jobs?limit=1&state=running`)).body.data[0]?.id as string | undefined
      const poll = async () => {
        const id = await list()
        if (id) resolve(id)
        else setImmediate(() => void poll())
      }
      void poll()
    })
    const request = fetch(`${server.url}/v1/images/generations`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${KEY_A}`,
        'content-type': 'application/json',
        'x-fluxhost-simulate': 'slow=1500',
      },
      body: JSON.stringify({ model: 'flux-pro/v1.1', prompt: 'hang up', image_size: 'square' }),
      signal: controller.signal,
    }).catch((e: unknown) => e)
    const id = await seen
    controller.abort()
    expect(await request).toBeInstanceOf(Error)
    expect((await server.waitForJob(id)).state).toBe('succeeded')
  })
})
