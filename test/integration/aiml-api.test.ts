import OpenAI from 'openai'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { metricValue, unansweredSeries } from '../helpers/metrics.js'
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
      size: '1024x768',
      output_format: 'jpeg',
      background: 'opaque',
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
    [{ model: 'flux-pro/v1.1', prompt: 'x', output_format: 'gif' }, 'output_format', 'enum'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', output_compression: 101 }, 'output_compression', 'less_than_equal'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', output_compression: 0.5 }, 'output_compression', 'int_from_float'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', background: 'transparent' }, 'background', 'enum'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', stream: 'yes' }, 'stream', 'bool_type'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', partial_images: 4 }, 'partial_images', 'less_than_equal'],
    [{ model: 'flux-pro/v1.1', prompt: 'x', moderation: 'none' }, 'moderation', 'enum'],
    [
      { model: 'flux-pro/v1.1', prompt: 'x', image_size: { width: 1536, height: 1024 } },
      'image_size.width',
      'less_than_equal',
    ],
    [{ model: 'flux-pro/v1.1', prompt: 'x', size: '3000x100' }, 'size', 'less_than_equal'],
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
    // Answers from a job: they name it, and tell OpenAI's SDKs not to retry (one call, one job).
    for (const answer of [moderated, failed]) {
      expect(answer.headers.get('x-should-retry')).toBe('false')
      expect(answer.body.error.job_id).toBe(answer.headers.get('x-fluxhost-job-id'))
      expect((await api(answer.body.error.url, { key: KEY_B })).body.state).toBe('failed')
    }
  })

  it('a field error says not to retry; a rate limit leaves it to the SDK (429, Retry-After)', async () => {
    const bad = await generate({ model: 'flux-pro/v1.1', prompt: 'x', size: 'big' })
    expect(bad.headers.get('x-should-retry')).toBe('false')
    const limited = await generate(
      { model: 'flux-pro/v1.1', prompt: 'x', image_size: 'square' },
      { 'x-fluxhost-simulate': 'rate_limited' },
    )
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('2')
    expect(limited.headers.get('x-should-retry')).toBeNull()
    expect(limited.body.error.job_id).toBeUndefined()
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
      expect(response.headers.get('x-should-retry')).toBe('false')
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

describe('retries without an Idempotency-Key join the job whose answer went missing', () => {
  const body = (prompt: string) => ({ model: 'flux-pro/v1.1', prompt, image_size: 'square' })
  const tryNo = (n: number | string) => ({ 'x-stainless-retry-count': String(n) })
  const SLOW = { 'x-fluxhost-simulate': 'slow=1500' }
  const jobsWith = async (prompt: string, on = server) =>
    ((await api(`${on.url}/api/jobs?limit=100`, { key: KEY_B })).body.data as any[]).filter(
      (job) => job.request.prompt === prompt,
    )
  const unanswered = (event: Parameters<typeof unansweredSeries>[0], on = server) =>
    metricValue(on, unansweredSeries(event))
  const until = async (check: () => Promise<boolean>) => {
    while (!(await check())) await new Promise((resolve) => setImmediate(resolve))
  }
  /**
   * A first try whose client hangs up once its job exists (a client-side timeout): resolves
   * with that job's id once the server has left it for a retry (its metric says so).
   */
  const abandoned = async (prompt: string, count = 1) => {
    const before = await unanswered('left')
    const gone = new AbortController()
    const tries = Array.from({ length: count }, () =>
      fetch(`${server.url}/v1/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY_B}`, 'content-type': 'application/json', ...tryNo(0), ...SLOW },
        body: JSON.stringify(body(prompt)),
        signal: gone.signal,
      }).catch(() => 'aborted'),
    )
    await until(async () => (await jobsWith(prompt)).length === count)
    gone.abort()
    expect(await Promise.all(tries)).toEqual(Array(count).fill('aborted'))
    await until(async () => (await unanswered('left')) >= before + count)
    return (await jobsWith(prompt)).map((job) => job.id as string)
  }

  it('a marked retry joins the job of a try whose client left, once; an answered job is never joined', async () => {
    const [jobId] = await abandoned('left')
    const retry = await generate(body('left'), { ...tryNo(1), ...SLOW })
    expect(retry.status).toBe(201)
    expect(retry.headers.get('x-fluxhost-job-id')).toBe(jobId)
    // Taken: a further retry (say, of another call with the same body) makes its own.
    const again = await generate(body('left'), { ...tryNo(1), ...SLOW })
    expect(again.headers.get('x-fluxhost-job-id')).not.toBe(jobId)
    expect(await jobsWith('left')).toHaveLength(2)

    // A try that was answered leaves nothing: its SDK does not retry it, and another call's
    // retry with the same body must not get its images.
    const answered = await generate(body('answered'), tryNo(0))
    expect(answered.status).toBe(201)
    const other = await generate(body('answered'), tryNo(1))
    expect(other.headers.get('x-fluxhost-job-id')).not.toBe(answered.headers.get('x-fluxhost-job-id'))
    expect(await jobsWith('answered')).toHaveLength(2)
  })

  it('two identical calls whose clients both left: each retry takes one job, none is shared', async () => {
    const jobs = await abandoned('twins', 2)
    const retry = () => generate(body('twins'), { ...tryNo(1), ...SLOW })
    const retries = await Promise.all([retry(), retry()])
    const joined = retries.map((r) => r.headers.get('x-fluxhost-job-id'))
    expect(retries.map((r) => r.status)).toEqual([201, 201])
    expect(joined.sort()).toEqual([...jobs].sort())
    expect(await jobsWith('twins')).toHaveLength(2)
  })

  it('a first try never joins; nor does a request without the mark join a job whose client left', async () => {
    const [jobId] = await abandoned('unmarked')
    const first = await generate(body('unmarked'), { ...tryNo(0), ...SLOW })
    const plain = await generate(body('unmarked'), SLOW)
    expect([first, plain].map((r) => r.headers.get('x-fluxhost-job-id'))).not.toContain(jobId)
    // Still there for the call's own retry.
    expect((await generate(body('unmarked'), { ...tryNo(1), ...SLOW })).headers.get('x-fluxhost-job-id')).toBe(jobId)
    expect(await jobsWith('unmarked')).toHaveLength(3)
  })

  it('a retry with another body, or after the window, makes its own job', async () => {
    const [jobId] = await abandoned('window')
    const other = await generate({ ...body('window'), seed: 5 }, { ...tryNo(1), ...SLOW })
    expect(other.headers.get('x-fluxhost-job-id')).not.toBe(jobId)
    // FLUXHOST_SYNC_TIMEOUT_S (30 s here) and a minute's margin after the answer went missing.
    server.clock.advance(90_001)
    try {
      const late = await generate(body('window'), { ...tryNo(1), ...SLOW })
      expect(late.headers.get('x-fluxhost-job-id')).not.toBe(jobId)
    } finally {
      // Back to the real time, for the tests after this one.
      server.clock.advance(-90_001)
    }
    expect(await jobsWith('window')).toHaveLength(3)
  })

  it('an explicit Idempotency-Key wins over the mark', async () => {
    const [jobId] = await abandoned('keyed')
    const keyed = await generate(body('keyed'), { ...tryNo(1), ...SLOW, 'idempotency-key': '"explicit-1"' })
    expect(keyed.headers.get('idempotent-replayed')).toBeNull()
    expect(keyed.headers.get('x-fluxhost-job-id')).not.toBe(jobId)
    const replay = await generate(body('keyed'), { ...tryNo(0), ...SLOW, 'idempotency-key': '"explicit-1"' })
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(replay.headers.get('x-fluxhost-job-id')).toBe(keyed.headers.get('x-fluxhost-job-id'))
    expect(await jobsWith('keyed')).toHaveLength(2)
  })

  it('after a 504, the same request without the mark waits for that job; a marked try never takes it', async () => {
    const short = await startTestServer({ FLUXHOST_SYNC_TIMEOUT_S: '1' })
    try {
      const send = (headers: Record<string, string> = {}) =>
        api(`${short.url}/v1/images/generations`, {
          body: body('timed out'),
          key: null,
          headers: { authorization: `Bearer ${KEY_B}`, 'x-fluxhost-simulate': 'slow=2500', ...headers },
        })
      const timedOut = await send()
      expect(timedOut.status).toBe(504)
      expect(timedOut.headers.get('x-should-retry')).toBe('false')
      const jobId = timedOut.body.error.job_id as string
      // A new call, as its SDK says: its own job.
      const fresh = await send(tryNo(0))
      expect(fresh.body.error.job_id).not.toBe(jobId)
      // OpenAI's SDKs do not retry a 504 (x-should-retry: false): a marked retry is another call's.
      const marked = await send(tryNo(1))
      expect([jobId, fresh.body.error.job_id]).not.toContain(marked.body.error.job_id)
      // The same request again (an AI SDK retry, or a person trying again): the first job.
      await short.waitForJob(jobId)
      const again = await send()
      expect(again.status).toBe(201)
      expect(again.headers.get('x-fluxhost-job-id')).toBe(jobId)
      expect((await jobsWith('timed out', short)).map((job) => job.id).sort()).toEqual(
        [jobId, fresh.body.error.job_id, marked.body.error.job_id].sort(),
      )
      expect(await unanswered('joined', short)).toBe(1)
    } finally {
      await short.close()
    }
  })

  it('a shutdown ends the wait with a retryable 503; the retry, on another process, joins the job', async () => {
    // Two API processes on one data dir (behind a load balancer), with clocks that agree; the
    // one without a worker is stopped mid-wait.
    const home = await startTestServer({ FLUXHOST_SYNC_TIMEOUT_S: '30' })
    const leaving = await startTestServer(
      { ...home.recordsEnv, FLUXHOST_SYNC_TIMEOUT_S: '30' },
      { worker: false, dataDir: home.dataDir },
    )
    const send = (on: TestServer, headers: Record<string, string>) =>
      api(`${on.url}/v1/images/generations`, {
        body: body('shutdown'),
        key: null,
        headers: { authorization: `Bearer ${KEY_B}`, ...SLOW, ...headers },
      })
    try {
      const waiting = send(leaving, tryNo(0))
      await until(async () => (await jobsWith('shutdown', home)).length === 1)
      const [job] = await jobsWith('shutdown', home)
      // With a grace period, as in production (FLUXHOST_SHUTDOWN_GRACE_MS): the test helper's
      // close gives none, and cuts connections 100 ms in, before a loaded machine may answer.
      const closed = leaving.fluxhost.close(5_000)
      const stopped = await waiting
      await closed
      expect(stopped.status).toBe(503)
      expect(stopped.headers.get('x-should-retry')).toBeNull()
      expect(stopped.headers.get('retry-after')).toBe('1')
      const retry = await send(home, tryNo(1))
      expect(retry.status).toBe(201)
      expect(retry.headers.get('x-fluxhost-job-id')).toBe(job.id)
      expect(await jobsWith('shutdown', home)).toHaveLength(1)
    } finally {
      await leaving.close()
      await home.close()
    }
  })

  it.each(['x', '-1', '1.5', '99999'])('a malformed mark (%s) → 400 naming the header', async (value) => {
    const response = await generate(body('bad mark'), { 'x-stainless-retry-count': value })
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({ code: 'VALIDATION_FAILED', param: 'header.x-stainless-retry-count' })
  })
})

describe("OpenAI's fields on the route", () => {
  it('size past 1440 is made at the nearest size of the same shape, reported in size', async () => {
    const response = await generate({ model: 'flux-pro/v1.1', prompt: 'wide', size: '1792x1024' })
    expect(response.status).toBe(201)
    expect(response.body).toMatchObject({ size: '1344x768', images: [{ width: 1344, height: 768 }] })
  })

  it('output_format webp with output_compression', async () => {
    const response = await generate({
      model: 'flux-pro/v1.1',
      prompt: 'webp',
      image_size: 'square',
      output_format: 'webp',
      output_compression: 40,
    })
    expect(response.body).toMatchObject({ output_format: 'webp', images: [{ content_type: 'image/webp' }] })
    const job = (await api(`${server.url}/api/jobs/${response.headers.get('x-fluxhost-job-id')}`, { key: KEY_B })).body
    expect(job.request).toMatchObject({ outputFormat: 'webp', outputQuality: 40 })
    const file = Buffer.from(await (await fetch(response.body.images[0].url)).arrayBuffer())
    expect((await sharp(file).metadata()).format).toBe('webp')
  })

  it('stream: server-sent events, the completed image as b64_json', async () => {
    const response = await fetch(`${server.url}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_B}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'flux-pro/v1.1', prompt: 'streamed', image_size: 'square', stream: true }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const text = await response.text()
    const [head, data] = text.trim().split('\n')
    expect(head).toBe('event: image_generation.completed')
    const event = JSON.parse(data!.slice('data: '.length))
    expect(event).toMatchObject({ type: 'image_generation.completed', size: '512x512', output_format: 'jpeg' })
    expect(await sharp(Buffer.from(event.b64_json, 'base64')).metadata()).toMatchObject({ width: 512, height: 512 })
  })

  it('GET /v1/models with any of the key headers; without one, a 401 in OpenAI’s shape', async () => {
    const listed = await api(`${server.url}/v1/models`, { key: KEY_A })
    expect(listed.body).toEqual({
      object: 'list',
      data: [{ id: 'flux-pro/v1.1', object: 'model', created: 1727827200, owned_by: 'black-forest-labs' }],
    })
    const one = await api(`${server.url}/v1/models/flux-pro%2Fv1.1`, { key: null, headers: { 'x-api-key': KEY_A } })
    expect(one.body).toEqual(listed.body.data[0])
    const anonymous = await api(`${server.url}/v1/models`, { key: null })
    expect(anonymous.status).toBe(401)
    expect(anonymous.body.error).toMatchObject({ type: 'authentication_error', code: 'UNAUTHORIZED' })
  })
})
