import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load-config.js'
import { createFluxhost, type Fluxhost } from '../../src/main.js'
import { tempDir } from '../helpers/server.js'

const KEY = 'shape-key'
const id = expect.stringMatching(/^[0-9a-f-]{36}$/)
const url = expect.stringMatching(/^http:\/\/localhost(:\d+)?\//)

// What each API's clients parse, answered in-process (Fastify's inject: no socket): the
// success and error shapes of every dialect. The integration tests replay the seeds over HTTP.
describe('response shapes of every dialect', () => {
  let fluxhost: Fluxhost
  let app: FastifyInstance
  const call = async (method: 'GET' | 'POST', path: string, payload?: object, headers = { 'x-key': KEY }) => {
    const response = await app.inject({ method, url: path, ...(payload ? { payload } : {}), headers })
    return { status: response.statusCode, body: response.json() }
  }

  beforeAll(async () => {
    const config = loadConfig({
      FLUXHOST_DATA_DIR: tempDir(),
      FLUXHOST_API_KEYS: KEY,
      FLUXHOST_SAFETY_CHECKER: '0',
      FLUXHOST_LOG_LEVEL: 'silent',
    })
    fluxhost = await createFluxhost(config, { logger: pino({ level: 'silent' }), worker: true, listen: false })
    await fluxhost.start()
    app = fluxhost.app!
  })
  afterAll(() => fluxhost?.close(0))

  it("BFL: submit, FastAPI's detail for field errors and auth, Task not found", async () => {
    expect(await call('POST', '/v1/flux-pro-1.1', { prompt: 'a', width: 256, height: 256 })).toEqual({
      status: 200,
      body: { id, polling_url: url, cost: 4, input_mp: null, output_mp: 0.07 },
    })
    expect(await call('POST', '/v1/flux-pro-1.1', { prompt: 'a', width: 250 })).toEqual({
      status: 422,
      body: {
        detail: [
          {
            type: 'greater_than_equal',
            loc: ['body', 'width'],
            msg: 'Input should be greater than or equal to 256',
            input: 250,
            ctx: { ge: 256 },
          },
        ],
      },
    })
    expect(await call('POST', '/v1/flux-pro-1.1', { prompt: 'a' }, {} as { 'x-key': string })).toMatchObject({
      status: 401,
      body: { detail: expect.stringMatching(/^Missing API key/) },
    })
    expect(await call('GET', '/v1/get_result?id=nope')).toEqual({
      status: 200,
      body: { id: 'nope', status: 'Task not found', result: null, progress: null, details: null, preview: null },
    })
  })

  it('SeaArt: the queue answer with its four URLs; errors as {error: {code, message, details}}', async () => {
    const created = await call('POST', '/v1/queue/flux_pro_11', { prompt: 'a', width: 256, height: 256 })
    expect(created).toMatchObject({
      status: 200,
      body: { request_id: id, response_url: url, status_url: url, cancel_url: url, queue_position: expect.any(Number) },
    })
    expect(await call('POST', '/v1/queue/flux_pro_11', { prompt: 'a', width: 250 })).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'VALIDATION_FAILED',
          details: [{ field: 'width', message: 'Input should be greater than or equal to 256' }],
        },
      },
    })
  })

  it('Apiframe: 202 with jobId and QUEUED; its published envelopes: {error, details}, {error}', async () => {
    const created = await call('POST', '/v2/images/generate', { prompt: 'a', model: 'flux-1.1-pro' })
    expect(created).toEqual({ status: 202, body: { jobId: id, status: 'QUEUED' } })
    expect(await call('GET', `/v2/jobs/${created.body.jobId}`)).toMatchObject({
      status: 200,
      body: { id: created.body.jobId, status: expect.stringMatching(/^(QUEUED|PROCESSING|COMPLETED)$/), input: {} },
    })
    expect(await call('POST', '/v2/images/generate', { prompt: 'a', model: 'nope' })).toEqual({
      status: 400,
      body: {
        error: "model: Input should be 'flux-1.1-pro'",
        code: 'VALIDATION_FAILED',
        details: { model: ["Input should be 'flux-1.1-pro'"] },
      },
    })
    expect(await call('GET', '/v2/jobs/0190c1c0-0000-7000-8000-000000000000')).toEqual({
      status: 404,
      body: { error: 'No job with that id.', code: 'JOB_NOT_FOUND' },
    })
  })

  it("AIML: images and OpenAI's data in one synchronous 201; errors in OpenAI's shape", async () => {
    const made = await call('POST', '/v1/images/generations', {
      model: 'flux-pro/v1.1',
      prompt: 'a',
      image_size: { width: 256, height: 256 },
    })
    expect(made).toMatchObject({
      status: 201,
      body: {
        images: [{ url, width: 256, height: 256, content_type: 'image/jpeg' }],
        seed: expect.any(Number),
        has_nsfw_concepts: [false],
        prompt: 'a',
        created: expect.any(Number),
        data: [{ url }],
        size: '256x256',
        output_format: 'jpeg',
      },
    })
    expect(
      await call('POST', '/v1/images/generations', { model: 'flux-pro/v1.1', prompt: 'a', image_size: 'huge' }),
    ).toMatchObject({
      status: 400,
      body: { error: { type: 'invalid_request_error', param: 'image_size', code: 'VALIDATION_FAILED' } },
    })
    const model = { id: 'flux-pro/v1.1', object: 'model', created: expect.any(Number), owned_by: 'black-forest-labs' }
    expect(await call('GET', '/v1/models')).toEqual({ status: 200, body: { object: 'list', data: [model] } })
    expect(await call('GET', '/v1/models/flux-pro%2Fv1.1')).toEqual({ status: 200, body: model })
    // Under /v1, a Bearer key is OpenAI's client: its 404 in OpenAI's shape (BFL's stays FastAPI's).
    expect(await call('GET', '/v1/nope', undefined, { authorization: `Bearer ${KEY}` } as never)).toEqual({
      status: 404,
      body: { error: { message: 'No route GET /v1/nope', type: 'not_found_error', param: null, code: 'NOT_FOUND' } },
    })
  })

  it("fluxhost's own: the job object, and {error: {code, message, requestId}}", async () => {
    expect(await call('POST', '/api/jobs', { prompt: 'a', width: 256, height: 256 })).toMatchObject({
      status: 202,
      body: { id, object: 'job', model: 'flux-pro-1.1', dialect: 'native', state: 'queued', result: null, error: null },
    })
    expect(await call('GET', '/api/jobs/nope')).toEqual({
      status: 404,
      body: { error: { code: 'JOB_NOT_FOUND', message: 'No job with that id.', requestId: id } },
    })
  })
})
