import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, fetchStatus, KEY_A, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ FLUXHOST_WORKER_CONCURRENCY: '1' })
})
afterAll(async () => {
  await server.close()
})

const bearer = (key = KEY_A) => ({ key: null, headers: { authorization: `Bearer ${key}` } })
const create = (body: unknown, headers: Record<string, string> = {}, key = KEY_A) =>
  api(`${server.url}/v1/queue/flux_pro_11`, {
    body,
    key: null,
    headers: { authorization: `Bearer ${key}`, ...headers },
  })

// The request of seed 001's curl sample, as written there.
const SEED_001 = {
  prompt: 'A clean product photo of a red apple on a white table, soft studio lighting.',
  width: 1024,
  height: 768,
  prompt_upsampling: false,
  seed: 42,
  safety_tolerance: 2,
  output_format: 'jpeg',
}

describe('SeaArt queue API: the seeds replayed', () => {
  it('seed 001: create → status → response, every documented field', async () => {
    const created = await create(SEED_001)
    expect(created.status).toBe(200)
    const id = created.body.request_id as string
    const base = `${server.url}/v1/queue/flux_pro_11/requests/${id}`
    expect(created.body).toEqual({
      request_id: id,
      response_url: `${base}/response`,
      status_url: `${base}/status`,
      cancel_url: `${base}/cancel`,
      queue_position: expect.any(Number),
    })
    await server.waitForJob(id)
    const status = await api(created.body.status_url, bearer())
    expect(status.body).toEqual({ request_id: id, status: 'completed', queue_position: 0 })
    const response = await api(created.body.response_url, bearer())
    expect(response.status).toBe(200)
    expect(response.body).toEqual({
      request_id: id,
      status: 'completed',
      output: [{ content: [{ type: 'image', url: expect.stringContaining('/files/jobs/') }] }],
      usage: { cost: '0.04', discount: 0 },
      metadata: expect.objectContaining({
        model: 'flux_pro_11',
        prompt: SEED_001.prompt,
        seed: 42,
        width: 1024,
        height: 768,
        output_format: 'jpeg',
        engine: 'preview',
      }),
    })
    expect(response.body.error).toBeUndefined()
    const image = await fetch(response.body.output[0].content[0].url)
    expect(await sharp(Buffer.from(await image.arrayBuffer())).metadata()).toMatchObject({
      format: 'jpeg',
      width: 1024,
      height: 768,
    })
    // The same job, seen through fluxhost's own API.
    expect((await api(`${server.url}/api/jobs/${id}`)).body).toMatchObject({ dialect: 'seaart', state: 'succeeded' })
  })

  it('seed 000: model in the body is accepted and checked; defaults are 1024×768, jpeg', async () => {
    const created = await create({ model: 'flux_pro_11', prompt: 'defaults' })
    const job = await server.waitForJob(created.body.request_id)
    expect(job.request).toMatchObject({
      width: 1024,
      height: 768,
      safetyTolerance: 2,
      promptUpsampling: false,
      output: { format: 'jpeg' },
    })
    const wrong = await create({ model: 'flux_dev', prompt: 'x' })
    expect(wrong.status).toBe(400)
    expect(wrong.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'model' }] })
  })

  it('png output, image_prompt as base64, webhook_url stored', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer()
    const created = await create({
      prompt: 'guided',
      width: 256,
      height: 256,
      output_format: 'png',
      image_prompt: png.toString('base64'),
      webhook_url: 'https://93.184.215.14/hook',
    })
    const job = await server.waitForJob(created.body.request_id)
    expect(job.request).toMatchObject({
      output: { format: 'png' },
      imagePrompt: { strength: 0.5 },
      webhook: { url: 'https://93.184.215.14/hook' },
    })
    const response = await api(created.body.response_url, bearer())
    expect(await fetchStatus(response.body.output[0].content[0].url)).toBe(200)
  })
})

describe('queue position and cancel', () => {
  it(
    'reports the real number of queued jobs ahead, ' + 'and cancel works queued, running, twice, and refuses finished',
    async () => {
      const slow = { 'x-fluxhost-simulate': 'slow=30000' }
      const running = await create({ prompt: 'first', width: 256, height: 256 }, slow)
      await server.waitUntilRunning(running.body.request_id)
      const second = await create({ prompt: 'second', width: 256, height: 256 }, slow)
      const third = await create({ prompt: 'third', width: 256, height: 256 }, slow)
      expect(second.body.queue_position).toBe(0)
      expect(third.body.queue_position).toBe(1)
      expect((await api(third.body.status_url, bearer())).body).toEqual({
        request_id: third.body.request_id,
        status: 'queued',
        queue_position: 1,
      })
      expect((await api(running.body.status_url, bearer())).body.status).toBe('in_progress')
      const pending = await api(running.body.response_url, bearer())
      expect(pending.body).toMatchObject({ status: 'in_progress' })
      expect(pending.body.output).toBeUndefined()
      expect(pending.body.usage).toBeUndefined()

      // Cancel the queued one: the one behind it moves up.
      const canceledQueued = await api(second.body.cancel_url, { method: 'PUT', ...bearer() })
      expect(canceledQueued.body).toEqual({ request_id: second.body.request_id, status: 'cancelled' })
      expect((await api(third.body.status_url, bearer())).body.queue_position).toBe(0)

      // Cancel the running one: its engine stops, and the next job starts at once.
      expect((await api(running.body.cancel_url, { method: 'PUT', ...bearer() })).body.status).toBe('cancelled')
      await server.waitUntilRunning(third.body.request_id)
      expect((await api(running.body.cancel_url, { method: 'PUT', ...bearer() })).status).toBe(200)
      expect((await api(running.body.response_url, bearer())).body).toMatchObject({ status: 'cancelled' })
      await api(third.body.cancel_url, { method: 'PUT', ...bearer() })

      const done = await create({ prompt: 'quick', width: 256, height: 256 })
      await server.waitForJob(done.body.request_id)
      const refused = await api(done.body.cancel_url, { method: 'PUT', ...bearer() })
      expect(refused.status).toBe(409)
      expect(refused.body.error.code).toBe('JOB_NOT_CANCELABLE')
    },
  )
})

describe("errors in SeaArt's shape", () => {
  it.each([
    [{}, 'prompt', 'missing'],
    [{ prompt: '' }, 'prompt', 'string_too_short'],
    [{ prompt: 'x'.repeat(10_001) }, 'prompt', 'string_too_long'],
    [{ prompt: 7 }, 'prompt', 'string_type'],
    [{ prompt: 'x', width: 1000 }, 'width', 'multiple_of'],
    [{ prompt: 'x', width: 224 }, 'width', 'greater_than_equal'],
    [{ prompt: 'x', height: 1472 }, 'height', 'less_than_equal'],
    [{ prompt: 'x', height: '768' }, 'height', 'int_type'],
    [{ prompt: 'x', seed: 1.5 }, 'seed', 'int_from_float'],
    [{ prompt: 'x', safety_tolerance: 7 }, 'safety_tolerance', 'less_than_equal'],
    [{ prompt: 'x', output_format: 'webp' }, 'output_format', 'enum'],
    [{ prompt: 'x', prompt_upsampling: 'no' }, 'prompt_upsampling', 'bool_type'],
    [{ prompt: 'x', image_prompt: '%%%' }, 'image_prompt', 'value_error'],
    [{ prompt: 'x', webhook_url: 'nope' }, 'webhook_url', 'url_parsing'],
  ])('%j → 400 naming %s', async (body, field, type) => {
    const response = await create(body)
    expect(response.status).toBe(400)
    expect(response.body.error.code).toBe('VALIDATION_FAILED')
    expect(response.body.error.details).toContainEqual(expect.objectContaining({ field, type }))
    expect(response.body.request_id).toBe(response.headers.get('x-request-id'))
  })

  it('keys, unknown ids, other models, failures', async () => {
    expect((await create({ prompt: 'x' }, {}, 'bad')).body.error.code).toBe('UNAUTHORIZED')
    expect((await api(`${server.url}/v1/queue/flux_pro_11`, { body: { prompt: 'x' }, key: null })).status).toBe(401)
    const unknown = await api(`${server.url}/v1/queue/flux_pro_11/requests/nope/status`, bearer())
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe('JOB_NOT_FOUND')
    const other = await api(`${server.url}/v1/queue/flux_schnell`, { body: { prompt: 'x' }, ...bearer() })
    expect(other.status).toBe(404)
    expect(other.body.error).toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining('flux_pro_11') })

    const mine = await create({ prompt: 'private', width: 256, height: 256 })
    expect((await api(mine.body.status_url, bearer(KEY_B))).status).toBe(404)

    const failed = await create({ prompt: 'x', width: 256, height: 256 }, { 'x-fluxhost-simulate': 'error' })
    await server.waitForJob(failed.body.request_id)
    const response = await api(failed.body.response_url, bearer())
    expect(response.body).toMatchObject({
      status: 'failed',
      error: { code: 'GENERATION_FAILED', message: expect.any(String) },
    })
    expect(response.body.output).toBeUndefined()
    expect(response.body.usage).toBeUndefined()
  })
})
