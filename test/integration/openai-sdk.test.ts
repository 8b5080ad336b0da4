import OpenAI from 'openai'
import OpenAIv4 from 'openai-v4'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { metricAbove, metricValue, unansweredSeries } from '../helpers/metrics.js'
import { api, KEY_A, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'

// OpenAI's own SDKs (the current one and 4.x), unchanged but for the base URL, against a real
// server: what they send, how they retry, and what they make of every answer.
let server: TestServer
beforeAll(async () => {
  // Generous: every synchronous call here must finish inside it on a loaded machine; the 504
  // tests have a server of their own.
  server = await startTestServer({ FLUXHOST_SYNC_TIMEOUT_S: '30' })
})
afterAll(async () => {
  await server.close()
})

const MODEL = 'flux-pro/v1.1'
const SDKS = [
  ['openai 6', OpenAI],
  ['openai 4', OpenAIv4],
] as const

/** The retry mark of every try the SDK sent, in order: what the client saw of its own retries. */
function countingFetch(
  through: (url: string | URL | Request, init: RequestInit, attempt: string) => Promise<Response>,
) {
  const tries: string[] = []
  const wrapped = (url: string | URL | Request, init: RequestInit = {}) => {
    const headers = new Headers(init.headers)
    // openai 4 sets content-length itself, which Node's own fetch refuses to be told.
    headers.delete('content-length')
    const attempt = headers.get('x-stainless-retry-count') ?? 'none'
    tries.push(attempt)
    return through(url, { ...init, headers }, attempt)
  }
  // Typed for both SDKs at once (each declares its own fetch type).
  return { tries, fetch: wrapped as never }
}

/** Every job of a key, newest first, from fluxhost's own API. */
const jobsOf = async (s: TestServer, key: string) =>
  (await api(`${s.url}/api/jobs?limit=100`, { key })).body.data as { id: string; state: string; request: any }[]

/** Jobs a server left for a retry because their client left (its timeout). */
const leftCount = (s: TestServer) => metricValue(s, unansweredSeries('left'))

/**
 * Resolves once the server has seen the try before this retry go (its client's timeout) and
 * left its job: as the SDK's own backoff (≥ 375 ms) lets it, but as an event, not a delay.
 */
const triedBeforeLeft = (s: TestServer, before: number) => metricAbove(s, unansweredSeries('left'), before)

describe.each(SDKS)('%s: one call is at most one job', (name, Sdk) => {
  it('a sync timeout (504) is not retried, and its error names the one job, which goes on', async () => {
    const short = await startTestServer({ FLUXHOST_SYNC_TIMEOUT_S: '1' })
    try {
      const counted = countingFetch((url, init) => fetch(url, init))
      const client = new Sdk({
        baseURL: `${short.url}/v1`,
        apiKey: KEY_A,
        fetch: counted.fetch,
        defaultHeaders: { 'x-fluxhost-simulate': 'slow=3000' },
      })
      const error: any = await client.images.generate({ model: MODEL, prompt: 'slow', size: '256x256' }).catch((e) => e)
      expect(error).toBeInstanceOf(Sdk.InternalServerError)
      expect(error.status).toBe(504)
      expect(error.headers.get?.('x-should-retry') ?? error.headers['x-should-retry']).toBe('false')
      expect(error.error).toMatchObject({ code: 'SYNC_TIMEOUT', job_id: expect.any(String) })
      expect(counted.tries).toEqual(['0'])
      expect((await jobsOf(short, KEY_A)).map((job) => job.id)).toEqual([error.error.job_id])
      expect((await short.waitForJob(error.error.job_id)).state).toBe('succeeded')
    } finally {
      await short.close()
    }
  })

  /**
   * A client whose SDK times out (1 s) on a slow job (3 s) and retries, as it would by itself;
   * its retry goes to `retryTo` (another API process, or the same). Its tries are counted.
   */
  const timingOut = async (retryTo: TestServer) => {
    const before = await leftCount(server)
    const counted = countingFetch(async (url, init, attempt) => {
      if (attempt === '0') return fetch(url, init)
      // The retry: once the server has left the first try's job (a first try makes its job
      // within milliseconds; a timeout shorter than that is not this test), and past the
      // SDK's timeout, which would otherwise cut this wait short too: its answer is the job's.
      await triedBeforeLeft(server, before)
      const { signal: _cut, ...rest } = init
      return fetch(String(url).replace(server.url, retryTo.url), rest)
    })
    const client = new Sdk({
      baseURL: `${server.url}/v1`,
      apiKey: KEY_B,
      timeout: 1000,
      fetch: counted.fetch,
      defaultHeaders: { 'x-fluxhost-simulate': 'slow=3000' },
    })
    return { client, tries: counted.tries }
  }
  const jobsWith = async (prompt: string) =>
    (await jobsOf(server, KEY_B)).filter((job) => job.request.prompt === prompt)

  it('a client-side timeout is retried, and the retry joins the first try’s job for its images', async () => {
    const prompt = `client timeout ${name}`
    const { client, tries } = await timingOut(server)
    const { data, response } = await client.images
      .generate({ model: MODEL, prompt, size: '256x256', response_format: 'b64_json' })
      .withResponse()
    expect(tries).toEqual(['0', '1'])
    const jobs = await jobsWith(prompt)
    expect(jobs).toHaveLength(1)
    expect(response.headers.get('x-fluxhost-job-id')).toBe(jobs[0]!.id)
    const stored = await fetch(
      (await api(`${server.url}/api/jobs/${jobs[0]!.id}`, { key: KEY_B })).body.result.images[0].url,
    )
    expect(Buffer.from(data.data![0]!.b64_json!, 'base64')).toEqual(Buffer.from(await stored.arrayBuffer()))
  })

  it('a retry that reaches another API process sharing the records joins the job too', async () => {
    // Behind a load balancer the retry may reach another process: the join is in the records.
    const other = await startTestServer(
      { ...server.recordsEnv, FLUXHOST_SYNC_TIMEOUT_S: '30' },
      { worker: false, dataDir: server.dataDir },
    )
    try {
      const prompt = `other process ${name}`
      const { client, tries } = await timingOut(other)
      const { data, response } = await client.images.generate({ model: MODEL, prompt, size: '256x256' }).withResponse()
      expect(tries).toEqual(['0', '1'])
      const jobs = await jobsWith(prompt)
      expect(jobs).toHaveLength(1)
      expect(response.headers.get('x-fluxhost-job-id')).toBe(jobs[0]!.id)
      expect(data.data![0]!.url).toContain(other.url)
      expect(data.data![0]!.url).toContain(jobs[0]!.id)
    } finally {
      await other.close()
    }
  })

  it('a failed job is answered once, naming it, and not retried', async () => {
    const counted = countingFetch((url, init) => fetch(url, init))
    const client = new Sdk({
      baseURL: `${server.url}/v1`,
      apiKey: KEY_A,
      fetch: counted.fetch,
      defaultHeaders: { 'x-fluxhost-simulate': 'error' },
    })
    const prompt = `failing ${name}`
    const error: any = await client.images.generate({ model: MODEL, prompt, size: '256x256' }).catch((e) => e)
    expect(error).toBeInstanceOf(Sdk.InternalServerError)
    expect(error.error).toMatchObject({ code: 'GENERATION_FAILED', job_id: expect.any(String) })
    expect(counted.tries).toEqual(['0'])
    const jobs = (await jobsOf(server, KEY_A)).filter((job) => job.request.prompt === prompt)
    expect(jobs.map((job) => job.id)).toEqual([error.error.job_id])
  })

  it('a rate limit that made no job is retried, and the retry makes the one job', async () => {
    const counted = countingFetch((url, init, attempt) => {
      // The first try is refused (429, Retry-After): nothing was made, so the SDK may retry.
      const headers = new Headers(init.headers)
      if (attempt === '0') headers.set('x-fluxhost-simulate', 'rate_limited')
      return fetch(url, { ...init, headers })
    })
    const client = new Sdk({ baseURL: `${server.url}/v1`, apiKey: KEY_A, fetch: counted.fetch })
    const prompt = `rate limited ${name}`
    const result = await client.images.generate({ model: MODEL, prompt, size: '256x256' })
    expect(counted.tries).toEqual(['0', '1'])
    const jobs = (await jobsOf(server, KEY_A)).filter((job) => job.request.prompt === prompt)
    expect(jobs).toHaveLength(1)
    expect(result.data![0]!.url).toContain(jobs[0]!.id)
  })

  it('two first tries with the same body make two jobs', async () => {
    const client = new Sdk({ baseURL: `${server.url}/v1`, apiKey: KEY_A })
    const prompt = `twice ${name}`
    const [a, b] = await Promise.all([
      client.images.generate({ model: MODEL, prompt, size: '256x256' }),
      client.images.generate({ model: MODEL, prompt, size: '256x256' }),
    ])
    expect(a.data![0]!.url).not.toBe(b.data![0]!.url)
    const again = await client.images.generate({ model: MODEL, prompt, size: '256x256' })
    expect((await jobsOf(server, KEY_A)).filter((job) => job.request.prompt === prompt)).toHaveLength(3)
    expect(again.data![0]!.url).not.toBe(a.data![0]!.url)
  })
})

const client = (key = KEY_A) => new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key })
const clientV4 = () => new OpenAIv4({ baseURL: `${server.url}/v1`, apiKey: KEY_A })

/** An image's size and format, decoded. */
const decoded = async (bytes: Buffer) => {
  const { width, height, format } = await sharp(bytes).metadata()
  return { width, height, format }
}
const b64 = (text: string | undefined) => Buffer.from(text ?? '', 'base64')

describe('images.generate with OpenAI’s parameters (openai 6)', () => {
  it('url: a stored image at the size asked, reported as made', async () => {
    const result = await client().images.generate({ model: MODEL, prompt: 'a lighthouse', size: '512x512' })
    expect(result).toMatchObject({ created: expect.any(Number), size: '512x512', output_format: 'jpeg' })
    const file = Buffer.from(await (await fetch(result.data![0]!.url!)).arrayBuffer())
    expect(await decoded(file)).toEqual({ width: 512, height: 512, format: 'jpeg' })
  })

  it('b64_json and n: 2 → two different images', async () => {
    const result = await client().images.generate({
      model: MODEL,
      prompt: 'two',
      n: 2,
      size: '256x256',
      response_format: 'b64_json',
    })
    expect(result.data).toHaveLength(2)
    expect(b64(result.data![0]!.b64_json)).not.toEqual(b64(result.data![1]!.b64_json))
    for (const image of result.data!)
      expect(await decoded(b64(image.b64_json))).toMatchObject({ width: 256, height: 256 })
  })

  it.each([
    ['1536x1024', 1440, 960],
    ['1024x1536', 960, 1440],
    ['1792x1024', 1344, 768],
    ['1024x1792', 768, 1344],
  ] as const)('size %s, past the model’s 1440, is made at %ix%i (same shape) and says so', async (size, w, h) => {
    const result = await client().images.generate({ model: MODEL, prompt: size, size, response_format: 'b64_json' })
    expect(result.size).toBe(`${w}x${h}`)
    expect(await decoded(b64(result.data![0]!.b64_json))).toMatchObject({ width: w, height: h })
  })

  it('output_format webp with output_compression: a webp, smaller at lower quality', async () => {
    const make = (output_compression: number) =>
      client().images.generate({
        model: MODEL,
        prompt: 'a webp of a red apple',
        size: '512x512',
        seed: 7,
        output_format: 'webp',
        output_compression,
        response_format: 'b64_json',
      } as never)
    const [low, high] = await Promise.all([make(5), make(100)])
    expect(low.output_format).toBe('webp')
    expect(await decoded(b64(low.data![0]!.b64_json))).toEqual({ width: 512, height: 512, format: 'webp' })
    expect(b64(low.data![0]!.b64_json).length).toBeLessThan(b64(high.data![0]!.b64_json).length)
  })

  it('stream: one image_generation.completed event per image, with the image', async () => {
    const stream = await client().images.generate({
      model: MODEL,
      prompt: 'streamed',
      size: '1536x1024',
      output_format: 'png',
      stream: true,
      partial_images: 2,
    })
    const events: any[] = []
    for await (const event of stream) events.push(event)
    expect(events.map((e) => e.type)).toEqual(['image_generation.completed'])
    expect(events[0]).toMatchObject({
      size: '1440x960',
      output_format: 'png',
      background: 'opaque',
      created_at: expect.any(Number),
      usage: { total_tokens: 0 },
    })
    expect(await decoded(b64(events[0].b64_json))).toEqual({ width: 1440, height: 960, format: 'png' })
  })

  it('stream with a timeout shorter than the job: the head comes at once, so one try and one job', async () => {
    const counted = countingFetch((url, init) => fetch(url, init))
    const sdk = new OpenAI({
      baseURL: `${server.url}/v1`,
      apiKey: KEY_B,
      timeout: 1000,
      fetch: counted.fetch,
      defaultHeaders: { 'x-fluxhost-simulate': 'slow=2500' },
    })
    const prompt = 'streamed past the client timeout'
    const stream = await sdk.images.generate({ model: MODEL, prompt, size: '256x256', stream: true })
    const events: { type: string }[] = []
    for await (const event of stream) events.push(event)
    expect(events.map((event) => event.type)).toEqual(['image_generation.completed'])
    expect(counted.tries).toEqual(['0'])
    expect((await jobsOf(server, KEY_B)).filter((job) => job.request.prompt === prompt)).toHaveLength(1)
  })

  it('stream: a job that fails is an error event, which the SDK throws, naming the job', async () => {
    const failing = new OpenAI({
      baseURL: `${server.url}/v1`,
      apiKey: KEY_A,
      defaultHeaders: { 'x-fluxhost-simulate': 'request_moderated' },
    })
    const stream = await failing.images.generate({ model: MODEL, prompt: 'x', size: '256x256', stream: true })
    const error: any = await (async () => {
      for await (const _ of stream) {
        // No image comes.
      }
    })().catch((e) => e)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect(error.error).toMatchObject({ code: 'REQUEST_MODERATED', job_id: expect.any(String) })
    expect(error.message).toContain('the prompt was flagged')
  })

  it('a bad field is a BadRequestError naming it; the stream is refused before it starts', async () => {
    const cases: [object, string][] = [
      [{ size: '1000x512' }, 'size'],
      [{ size: 'huge' }, 'size'],
      [{ background: 'transparent' }, 'background'],
      [{ output_format: 'gif' }, 'output_format'],
      [{ output_compression: 101 }, 'output_compression'],
      [{ partial_images: 4, stream: true }, 'partial_images'],
      [{ model: 'dall-e-3' }, 'model'],
    ]
    for (const [fields, param] of cases) {
      const error: any = await client()
        .images.generate({ model: MODEL, prompt: 'x', ...fields } as never)
        .catch((e) => e)
      expect(error, param).toBeInstanceOf(OpenAI.BadRequestError)
      expect(error, param).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', param })
      expect(error.message, param).toContain(param)
    }
  })

  it('a wrong key is an AuthenticationError', async () => {
    const error = await client('wrong')
      .images.generate({ model: MODEL, prompt: 'x' })
      .catch((e) => e)
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError)
  })
})

describe('models, and routes that do not exist', () => {
  it.each(SDKS)('%s: models.list() and models.retrieve() name the model this route serves', async (_name, Sdk) => {
    const sdk = new Sdk({ baseURL: `${server.url}/v1`, apiKey: KEY_A })
    const models: unknown[] = []
    for await (const model of sdk.models.list()) models.push(model)
    expect(models).toEqual([{ id: MODEL, object: 'model', created: expect.any(Number), owned_by: 'black-forest-labs' }])
    expect(await sdk.models.retrieve(MODEL)).toEqual(models[0])
    const missing = await sdk.models.retrieve('dall-e-3').catch((e) => e)
    expect(missing).toBeInstanceOf(Sdk.NotFoundError)
    expect(missing).toMatchObject({ status: 404, code: 'MODEL_NOT_FOUND', param: 'model' })
  })

  it('an unknown route under /v1 with a Bearer key: NotFoundError in OpenAI’s shape', async () => {
    const error: any = await client()
      .embeddings.create({ model: 'x', input: 'y' })
      .catch((e) => e)
    expect(error).toBeInstanceOf(OpenAI.NotFoundError)
    expect(error.error).toEqual({
      message: 'No route POST /v1/embeddings',
      type: 'not_found_error',
      param: null,
      code: 'NOT_FOUND',
    })
  })

  it("without a Bearer key, /v1 keeps BFL's (FastAPI's) 404", async () => {
    const response = await api(`${server.url}/v1/nope`, { key: KEY_A })
    expect(response.status).toBe(404)
    expect(response.body).toEqual({ detail: 'Not Found' })
  })
})

describe('openai 4: the same parameters', () => {
  // openai 4 has no image streaming (it reads a stream as text): not tried here.
  it('url, b64_json and a mapped size', async () => {
    const sdk = clientV4()
    const byUrl = await sdk.images.generate({ model: MODEL, prompt: 'v4', size: '256x256' })
    expect(byUrl.data![0]!.url).toContain('/files/')
    const inline = await sdk.images.generate({
      model: MODEL,
      prompt: 'v4',
      size: '1792x1024',
      response_format: 'b64_json',
    })
    expect(await decoded(b64(inline.data![0]!.b64_json))).toMatchObject({ width: 1344, height: 768 })
  })
})
