import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, KEY_A, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server.close()
})

const submit = (body: unknown, headers: Record<string, string> = {}, key: string | null = KEY_A) =>
  api(`${server.url}/v1/flux-pro-1.1`, { body, headers, key })

describe('POST /v1/flux-pro-1.1 → GET /v1/get_result', () => {
  it('runs the documented flow: submit, poll until Ready, download the sample', async () => {
    const created = await submit({ prompt: 'a red apple on a white table', seed: 42 })
    expect(created.status).toBe(200)
    expect(created.body).toEqual({
      id: expect.any(String),
      polling_url: `${server.url}/v1/get_result?id=${created.body.id}`,
      cost: 4,
      input_mp: null,
      output_mp: 0.79,
    })
    await server.waitForJob(created.body.id)
    const result = await api(created.body.polling_url)
    expect(result.status).toBe(200)
    expect(result.body).toMatchObject({
      id: created.body.id,
      status: 'Ready',
      progress: 1,
      details: null,
      preview: null,
      result: { sample: expect.stringContaining('/files/jobs/'), prompt: 'a red apple on a white table', seed: 42 },
    })
    const image = await fetch(result.body.result.sample)
    expect(image.status).toBe(200)
    expect(image.headers.get('content-type')).toBe('image/jpeg')
    const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata()
    expect(meta).toMatchObject({ format: 'jpeg', width: 1024, height: 768 })
  })

  it('applies every documented default and honours each field', async () => {
    const created = await submit({
      prompt: 'x',
      width: 512,
      height: 256,
      output_format: 'webp',
      safety_tolerance: 6,
      prompt_upsampling: true,
      webhook_url: 'https://93.184.215.14/hook',
      webhook_secret: 's3cret',
    })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({
      status: 'Pending',
      webhook_url: 'https://93.184.215.14/hook',
      output_mp: 0.13,
    })
    const job = await server.waitForJob(created.body.id)
    expect(job.request).toMatchObject({
      width: 512,
      height: 256,
      safetyTolerance: 6,
      promptUpsampling: true,
      output: { format: 'webp' },
      // Kept sealed in the records (docs/deploy.md, "Secrets at rest"); sent back in clear.
      webhook: { url: 'https://93.184.215.14/hook', secret: expect.stringMatching(/^v1:[\w-]+$/) },
    })
    const defaults = await submit({})
    const byDefault = await server.waitForJob(defaults.body.id)
    expect(byDefault.request).toMatchObject({
      prompt: '',
      width: 1024,
      height: 768,
      safetyTolerance: 2,
      promptUpsampling: false,
      output: { format: 'jpeg' },
    })
    expect(Number.isSafeInteger(byDefault.request.seed)).toBe(true)
  })

  it('gives the same bytes for the same seed and different bytes for another', async () => {
    const sample = async (seed: number) => {
      const { body } = await submit({ prompt: 'reproducible', seed, width: 256, height: 256, output_format: 'png' })
      await server.waitForJob(body.id)
      const result = await api(body.polling_url)
      return Buffer.from(await (await fetch(result.body.result.sample)).arrayBuffer())
    }
    const [a, b, c] = await Promise.all([sample(7), sample(7), sample(8)])
    expect(a.equals(b)).toBe(true)
    expect(a.equals(c)).toBe(false)
  })

  it('accepts an image_prompt as base64 and reports input_mp', async () => {
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#00ff00' } })
      .png()
      .toBuffer()
    const created = await submit({ prompt: 'guided', image_prompt: png.toString('base64'), width: 256, height: 256 })
    expect(created.status).toBe(200)
    expect(created.body.input_mp).toBe(0.07)
    expect((await server.waitForJob(created.body.id)).state).toBe('succeeded')
  })
})

describe('bad input gets FastAPI-shaped 422s naming the field', () => {
  it.each([
    [{ width: 1000 }, ['body', 'width'], 'multiple_of'],
    [{ width: 224 }, ['body', 'width'], 'greater_than_equal'],
    [{ height: 1472 }, ['body', 'height'], 'less_than_equal'],
    [{ width: '1024' }, ['body', 'width'], 'int_type'],
    [{ width: 512.5 }, ['body', 'width'], 'int_from_float'],
    [{ safety_tolerance: 7 }, ['body', 'safety_tolerance'], 'less_than_equal'],
    [{ output_format: 'gif' }, ['body', 'output_format'], 'enum'],
    [{ prompt_upsampling: 'yes' }, ['body', 'prompt_upsampling'], 'bool_type'],
    [{ seed: 'abc' }, ['body', 'seed'], 'int_type'],
    [{ prompt: 42 }, ['body', 'prompt'], 'string_type'],
    [{ webhook_url: 'not a url' }, ['body', 'webhook_url'], 'url_parsing'],
    [{ prompt: 'x'.repeat(1024 * 1024) }, ['body', 'prompt'], 'string_too_long'],
    [{ image_prompt: 'not base64!!' }, ['body', 'image_prompt'], 'value_error'],
    [{ image_prompt: Buffer.from('hello, not an image').toString('base64') }, ['body', 'image_prompt'], 'value_error'],
    [[1, 2], ['body'], 'model_attributes_type'],
  ])('%j → %j %s', async (body, loc, type) => {
    const before = await server.fluxhost.store.jobs.countByState()
    const response = await submit(body)
    expect(response.status).toBe(422)
    expect(response.body.detail).toContainEqual(expect.objectContaining({ loc, type, msg: expect.any(String) }))
    expect(await server.fluxhost.store.jobs.countByState()).toEqual(before)
  })

  it('reports every bad field at once', async () => {
    const response = await submit({ width: 100, height: 3000, safety_tolerance: -1 })
    expect(response.body.detail.map((d: { loc: string[] }) => d.loc[1]).sort()).toEqual([
      'height',
      'safety_tolerance',
      'width',
    ])
  })

  it('malformed JSON → 422 json_invalid; wrong content type → 415; empty body → 422 missing', async () => {
    const bad = await api(`${server.url}/v1/flux-pro-1.1`, {
      rawBody: '{"prompt": ',
      headers: { 'content-type': 'application/json' },
    })
    expect(bad.status).toBe(422)
    expect(bad.body.detail[0]).toMatchObject({ type: 'json_invalid', loc: ['body', 11], msg: 'JSON decode error' })
    const form = await api(`${server.url}/v1/flux-pro-1.1`, {
      rawBody: 'prompt=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(form.status).toBe(415)
    expect(form.body).toEqual({ detail: expect.stringContaining('application/json') })
    const empty = await api(`${server.url}/v1/flux-pro-1.1`, {
      rawBody: '',
      headers: { 'content-type': 'application/json' },
    })
    expect(empty.status).toBe(422)
    expect(empty.body.detail[0]).toMatchObject({ type: 'missing', loc: ['body'] })
  })

  it('a body over the limit → 413 and no job', async () => {
    const small = await startTestServer({ FLUXHOST_BODY_LIMIT: '2048' })
    try {
      const response = await api(`${small.url}/v1/flux-pro-1.1`, { body: { prompt: 'x'.repeat(4096) } })
      expect(response.status).toBe(413)
      expect(response.body).toEqual({ detail: expect.any(String) })
      expect((await small.fluxhost.store.jobs.countByState()).queued).toBe(0)
    } finally {
      await small.close()
    }
  })

  it('get_result without id → 422; an unknown id → 200 Task not found, as BFL answers it', async () => {
    const missing = await api(`${server.url}/v1/get_result`)
    expect(missing.status).toBe(422)
    expect(missing.body.detail[0]).toMatchObject({ loc: ['query', 'id'], type: 'missing' })
    const notFound = (id: string) => ({
      id,
      status: 'Task not found',
      result: null,
      progress: null,
      details: null,
      preview: null,
    })
    for (const id of ['nope', '0196f3a2-7c1e-7000-8000-000000000000']) {
      const unknown = await api(`${server.url}/v1/get_result?id=${id}`)
      expect(unknown.status, id).toBe(200)
      expect(unknown.body, id).toEqual(notFound(id))
    }
    const tooLong = await api(`${server.url}/v1/get_result?id=${'x'.repeat(101)}`)
    expect(tooLong.status).toBe(422)
    expect(tooLong.body.detail[0].loc).toEqual(['query', 'id'])
  })
})

describe('keys', () => {
  it('missing or wrong key → 401 {detail}; every header form works', async () => {
    const none = await submit({ prompt: 'x' }, {}, null)
    expect(none.status).toBe(401)
    expect(none.body).toEqual({ detail: expect.stringContaining('Missing API key') })
    const wrong = await submit({ prompt: 'x' }, {}, 'wrong')
    expect(wrong.status).toBe(401)
    expect(wrong.body).toEqual({ detail: 'Invalid or revoked API key.' })
    for (const headers of [{ authorization: `Bearer ${KEY_A}` }, { 'x-api-key': KEY_A }, { 'x-key': KEY_A }] as Record<
      string,
      string
    >[]) {
      expect((await submit({ prompt: 'x', width: 256, height: 256 }, headers, null)).status).toBe(200)
    }
  })

  it("a key sees only its own jobs: another key's id reads exactly as an unknown one", async () => {
    const { body } = await submit({ prompt: 'mine', width: 256, height: 256 })
    await server.waitForJob(body.id)
    expect((await api(body.polling_url)).body.status).toBe('Ready')
    const other = await api(`${server.url}/v1/get_result?id=${body.id}`, { key: KEY_B })
    const unknown = await api(`${server.url}/v1/get_result?id=${body.id.replace(/.{4}$/, '0000')}`, { key: KEY_B })
    expect([other.status, unknown.status]).toEqual([200, 200])
    expect(other.body).toEqual({ ...unknown.body, id: body.id })
    expect(other.body.status).toBe('Task not found')
    expect((await api(`${server.url}/api/jobs/${body.id}`, { key: KEY_B })).status).toBe(404)
    expect((await api(`${server.url}/api/jobs/${body.id}/cancel`, { method: 'POST', key: KEY_B })).status).toBe(404)
  })
})

describe('X-Fluxhost-Simulate', () => {
  const outcome = async (simulate: string) => {
    const { body } = await submit({ prompt: 'x', width: 256, height: 256 }, { 'x-fluxhost-simulate': simulate })
    await server.waitForJob(body.id)
    return (await api(body.polling_url)).body
  }

  it('request_moderated, content_moderated and error end in BFL statuses and are not charged', async () => {
    expect(await outcome('request_moderated')).toMatchObject({
      status: 'Request Moderated',
      result: null,
      details: { code: 'REQUEST_MODERATED', 'Moderation Reasons': [expect.any(String)] },
    })
    expect(await outcome('content_moderated')).toMatchObject({
      status: 'Content Moderated',
      details: { code: 'CONTENT_MODERATED' },
    })
    const error = await outcome('error')
    expect(error).toMatchObject({ status: 'Error', details: { code: 'GENERATION_FAILED' } })
    expect(await server.fluxhost.store.charges.forJob(error.id)).toBeUndefined()
  })

  it('rate_limited answers 429 with Retry-After and makes no job', async () => {
    const before = await server.fluxhost.store.jobs.countByState()
    const response = await submit({ prompt: 'x' }, { 'x-fluxhost-simulate': 'rate_limited' })
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('2')
    expect(response.body).toEqual({ detail: expect.stringContaining('too many requests') })
    expect(await server.fluxhost.store.jobs.countByState()).toEqual(before)
  })

  it('a bad header value → 422 naming the header', async () => {
    const response = await submit({ prompt: 'x' }, { 'x-fluxhost-simulate': 'explode' })
    expect(response.status).toBe(422)
    expect(response.body.detail[0].loc).toEqual(['header', 'x-fluxhost-simulate'])
  })

  it('slow=<ms> shows Pending with rising progress before Ready', async () => {
    const { body } = await submit({ prompt: 'x', width: 256, height: 256 }, { 'x-fluxhost-simulate': 'slow=1500' })
    const seen: number[] = []
    await new Promise<void>((resolve) => {
      const unsubscribe = server.fluxhost.services.jobs.subscribe(body.id, (event) => {
        if (event.type === 'progress') seen.push(event.progress)
        if (event.type === 'progress' && event.progress >= 0.5) {
          unsubscribe()
          resolve()
        }
      })
    })
    const midway = await api(body.polling_url)
    expect(midway.body).toMatchObject({ status: 'Pending', result: null })
    expect(midway.body.progress).toBeGreaterThan(0)
    expect(midway.body.progress).toBeLessThan(1)
    await server.waitForJob(body.id)
    expect((await api(body.polling_url)).body.status).toBe('Ready')
  })
})

describe('POST /v1/flux-pro-1.1-ultra and /v1/flux-dev', () => {
  const post = (path: string, body: unknown) => api(`${server.url}${path}`, { body })

  it('ultra renders its aspect ratio at about 4 megapixels and costs 6 credits', async () => {
    const created = await post('/v1/flux-pro-1.1-ultra', {
      prompt: 'a wide valley',
      aspect_ratio: '21:9',
      raw: true,
      seed: 3,
      output_format: 'png',
    })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({ cost: 6, output_mp: 4.21 })
    expect(await server.waitForJob(created.body.id)).toMatchObject({ state: 'succeeded', model: 'flux-pro-1.1-ultra' })
    const result = await api(created.body.polling_url)
    const meta = await sharp(Buffer.from(await (await fetch(result.body.result.sample)).arrayBuffer())).metadata()
    expect(meta).toMatchObject({ width: 3136, height: 1344, format: 'png' })
    const job = (await api(`${server.url}/api/jobs/${created.body.id}`)).body
    expect(job.request).toMatchObject({ aspectRatio: '21:9', raw: true, width: 3136, height: 1344 })
    // The default is 16:9.
    const defaults = await post('/v1/flux-pro-1.1-ultra', { prompt: 'x' })
    expect((await api(`${server.url}/api/jobs/${defaults.body.id}`)).body.request).toMatchObject({
      aspectRatio: '16:9',
      width: 2720,
      height: 1536,
      raw: false,
    })
    await server.waitForJob(defaults.body.id)
  })

  it.each([
    [{ aspect_ratio: '3:1' }, 'Aspect ratio should be between 21:9 and 9:21'],
    [{ aspect_ratio: 'wide' }, "Input should be a ratio like '16:9'"],
    [{ image_prompt_strength: 1.5 }, 'Input should be less than or equal to 1'],
  ])('ultra refuses %j → 422 naming the field', async (body, msg) => {
    // Every job in any state: a job of another test changing state must not count.
    const total = async () => Object.values(await server.fluxhost.store.jobs.countByState()).reduce((a, b) => a + b, 0)
    const before = await total()
    const response = await post('/v1/flux-pro-1.1-ultra', { prompt: 'x', ...body })
    expect(response.status).toBe(422)
    expect(response.body.detail).toContainEqual(
      expect.objectContaining({ loc: ['body', Object.keys(body)[0]], msg: expect.stringContaining(msg) }),
    )
    expect(await total()).toBe(before)
  })

  it('ultra takes image_prompt_strength as the image prompt strength', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#a0a' } })
      .png()
      .toBuffer()
    const created = await post('/v1/flux-pro-1.1-ultra', {
      prompt: 'guided',
      aspect_ratio: '1:1',
      image_prompt: png.toString('base64'),
      image_prompt_strength: 0.35,
    })
    expect(created.status).toBe(200)
    expect((await api(`${server.url}/api/jobs/${created.body.id}`)).body.request.imagePrompt).toEqual({
      strength: 0.35,
    })
  })

  it('dev takes steps and guidance within BFL ranges and costs 2.5 credits', async () => {
    const created = await post('/v1/flux-dev', {
      prompt: 'a violin',
      width: 512,
      height: 512,
      steps: 20,
      guidance: 4.5,
    })
    expect(created.status).toBe(200)
    expect(created.body.cost).toBe(2.5)
    expect(await server.waitForJob(created.body.id)).toMatchObject({ state: 'succeeded', model: 'flux-dev' })
    expect((await api(`${server.url}/api/jobs/${created.body.id}`)).body.request).toMatchObject({
      steps: 20,
      guidance: 4.5,
      width: 512,
      height: 512,
    })
    const defaults = await post('/v1/flux-dev', { prompt: 'x', width: 256, height: 256 })
    // Absent, they stay absent: each engine applies its own defaults (BFL's are 28 and 3).
    const request = (await api(`${server.url}/api/jobs/${defaults.body.id}`)).body.request
    expect(request.steps).toBeUndefined()
    expect(request.guidance).toBeUndefined()
    for (const [field, value] of [
      ['steps', 51],
      ['steps', 0],
      ['guidance', 1],
      ['guidance', 5.5],
    ] as const) {
      const refused = await post('/v1/flux-dev', { prompt: 'x', [field]: value })
      expect(refused.status, `${field}=${value}`).toBe(422)
      expect(refused.body.detail[0].loc).toEqual(['body', field])
    }
  })

  it('the native API takes steps and guidance only for flux-dev, aspectRatio only for ultra', async () => {
    const wrong = await api(`${server.url}/api/jobs`, { body: { prompt: 'x', model: 'flux-pro-1.1', steps: 10 } })
    expect(wrong.status).toBe(422)
    expect(wrong.body.error.message).toMatch(/flux-pro-1\.1 takes no steps/)
    const ratio = await api(`${server.url}/api/jobs`, { body: { prompt: 'x', model: 'flux-dev', aspectRatio: '1:1' } })
    expect(ratio.status).toBe(422)
    const ultra = await api(`${server.url}/api/jobs`, {
      body: { prompt: 'x', model: 'flux-pro-1.1-ultra', aspectRatio: '9:16' },
    })
    expect(ultra.status).toBe(202)
    expect(ultra.body.request).toMatchObject({ width: 1536, height: 2720, aspectRatio: '9:16' })
    // An explicit ultra size must keep within 21:9…9:21 and not contradict aspectRatio.
    const thin = await api(`${server.url}/api/jobs`, {
      body: { prompt: 'x', model: 'flux-pro-1.1-ultra', width: 3200, height: 256 },
    })
    expect(thin.status).toBe(422)
    expect(thin.body.error.message).toMatch(/aspect ratio between 21:9 and 9:21/)
    const both = await api(`${server.url}/api/jobs`, {
      body: { prompt: 'x', model: 'flux-pro-1.1-ultra', width: 2048, height: 2048, aspectRatio: '16:9' },
    })
    expect(both.status).toBe(422)
    expect(both.body.error.message).toMatch(/give an aspect ratio or a size, not both/)
  })
})
