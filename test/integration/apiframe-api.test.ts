import sharp from 'sharp'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startImageServer } from '../helpers/image-server.js'
import { api, KEY_A, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'
import { type Answer, startReceiver } from '../helpers/webhook-receiver.js'

// Apiframe's v2 as its OpenAPI document (2.0.0) publishes it and the seeds (002, 003) show it,
// over raw HTTP. test/integration/apiframe-client.test.ts drives it with a generated client.

let server: TestServer
let images: Awaited<ReturnType<typeof startImageServer>>
const receivers: Awaited<ReturnType<typeof startReceiver>>[] = []
beforeAll(async () => {
  // The image server and webhook receivers are on loopback, which outbound requests refuse unless allowed.
  server = await startTestServer({ FLUXHOST_ALLOW_PRIVATE_URLS: '1', FLUXHOST_WEBHOOK_RETRY_SCHEDULE: '0,20ms' })
  images = await startImageServer()
})
afterAll(async () => {
  await server.close()
  await images.close()
})
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

const generate = (body: unknown, headers: Record<string, string> = {}, key = KEY_A) =>
  api(`${server.url}/v2/images/generate`, { body, key: null, headers: { 'x-api-key': key, ...headers } })
const get = (path: string, key: string | null = KEY_A) =>
  api(`${server.url}${path}`, { key: null, headers: key === null ? {} : { 'x-api-key': key } })
const getJob = (id: string) => get(`/v2/jobs/${id}`)
const flux = (fluxParams: unknown, extra: object = {}) => ({ prompt: 'x', model: 'flux-1.1-pro', fluxParams, ...extra })

async function completed(id: string) {
  await server.waitForJob(id)
  return (await getJob(id)).body
}

/** The job as read after each webhook attempt, until `done` holds. */
function jobWhen(id: string, done: (job: any) => boolean): Promise<any> {
  return new Promise((resolve, reject) => {
    const check = () =>
      getJob(id).then(({ body }) => {
        if (!done(body)) return
        server.fluxhost.webhookEvents.off('attempt', check)
        resolve(body)
      }, reject)
    server.fluxhost.webhookEvents.on('attempt', check)
    void check()
  })
}

async function receiver(answer?: (n: number) => Answer) {
  const r = await startReceiver(answer)
  receivers.push(r)
  return r
}

describe('Apiframe v2: the seeds replayed, jobs as published', () => {
  it('seed 002: a 16:9 webp → 202 QUEUED, then the published Job with the image URL', async () => {
    const created = await generate({
      prompt: 'a futuristic city skyline at sunset, cyberpunk style',
      model: 'flux-1.1-pro',
      fluxParams: { aspect_ratio: '16:9', output_format: 'webp' },
    })
    expect(created.status).toBe(202)
    expect(created.body).toEqual({ jobId: expect.any(String), status: 'QUEUED' })
    const job = await completed(created.body.jobId)
    const url = expect.stringContaining('/files/')
    expect(job).toEqual({
      id: created.body.jobId,
      status: 'COMPLETED',
      model: 'flux-1.1-pro',
      progress: 100,
      error: null,
      errorCode: null,
      creditCost: 4,
      webhookStatus: null,
      createdAt: expect.any(String),
      completedAt: expect.any(String),
      expired: false,
      result: { url, images: [{ url, width: 1344, height: 768 }], seed: expect.any(Number) },
      input: {
        model: 'flux-1.1-pro',
        prompt: 'a futuristic city skyline at sunset, cyberpunk style',
        fluxParams: {
          width: 1344,
          height: 768,
          seed: job.result.seed,
          output_format: 'webp',
          output_quality: 90,
          prompt_upsampling: false,
          raw: false,
        },
      },
    })
    const file = Buffer.from(await (await fetch(job.result.url)).arrayBuffer())
    expect(await sharp(file).metadata()).toMatchObject({ format: 'webp', width: 1344, height: 768 })
  })

  it('seed 003: image_prompt fetched by the server, jpg at 90; input shows the stored copy', async () => {
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
    const { input } = (await getJob(job.id)).body
    expect(input.fluxParams).toMatchObject({ image_prompt_strength: 0.5, output_format: 'jpg', output_quality: 90 })
    const stored = await fetch(input.fluxParams.image_prompt)
    expect(stored.headers.get('content-type')).toBe('image/jpeg')
    expect(await sharp(Buffer.from(await stored.arrayBuffer())).metadata()).toMatchObject({ width: 320 })
  })

  it('any W:H is made near 1 MP; custom and bare width/height are honoured or mapped, with warnings', async () => {
    const cases: [object, [number, number], RegExp | null][] = [
      [{ aspect_ratio: '1:1' }, [1024, 1024], null],
      [{ aspect_ratio: '3:4' }, [864, 1152], null],
      [{ aspect_ratio: '4:3' }, [1152, 864], null],
      [{ aspect_ratio: '9:16' }, [768, 1344], null],
      [{ aspect_ratio: '16:9' }, [1344, 768], null],
      [{ aspect_ratio: '32:18' }, [1344, 768], null],
      [{ aspect_ratio: '2:3' }, [832, 1248], null],
      [{ aspect_ratio: '21:9' }, [1440, 608], null],
      [{ aspect_ratio: '10:1' }, [1440, 256], /aspect_ratio: 10:1 is beyond/],
      [{}, [1024, 1024], null],
      [{ aspect_ratio: 'custom', width: 512, height: 384 }, [512, 384], null],
      [{ width: 2048, height: 2048 }, [1440, 1440], /2048x2048 is made as 1440x1440/],
      [{ aspect_ratio: 'custom', width: 1000 }, [992, 768], /1000x768 is made as 992x768/],
      [{ aspect_ratio: '16:9', width: 512 }, [1344, 768], /not used with aspect_ratio 16:9/],
    ]
    for (const [fluxParams, [width, height], warning] of cases) {
      const seen = JSON.stringify(fluxParams)
      const { status, body } = await generate(flux(fluxParams), { 'x-fluxhost-simulate': 'request_moderated' })
      expect(status, seen).toBe(202)
      expect(body.warnings, seen).toEqual(warning ? [expect.stringMatching(warning)] : undefined)
      const job = await server.waitForJob(body.jobId)
      expect([job.request.width, job.request.height], seen).toEqual([width, height])
    }
    const custom = await generate(
      flux({ aspect_ratio: 'custom', width: 512, height: 384, seed: 9, raw: true, prompt_upsampling: true }),
    )
    const job = await server.waitForJob(custom.body.jobId)
    expect(job.request).toMatchObject({ width: 512, height: 384, seed: 9, raw: true, promptUpsampling: false })
  })

  it('a failed job reads FAILED with its error as a string and costs nothing', async () => {
    const created = await generate(flux({}), { 'x-fluxhost-simulate': 'error' })
    const job = await completed(created.body.jobId)
    expect(job).toMatchObject({
      status: 'FAILED',
      result: null,
      error: 'simulated: the upstream engine failed (X-Fluxhost-Simulate)',
      errorCode: 'GENERATION_FAILED',
      creditCost: 0,
      progress: expect.any(Number),
    })
    expect(Number.isInteger(job.progress)).toBe(true)
    expect((await api(`${server.url}/api/jobs/${created.body.jobId}`)).body.dialect).toBe('apiframe')
  })

  it('a job canceled through the native API reads CANCELLED; credits are null until it ends', async () => {
    const created = await generate(flux({ width: 256, height: 256 }), { 'x-fluxhost-simulate': 'slow=60000' })
    await server.waitUntilRunning(created.body.jobId)
    expect((await getJob(created.body.jobId)).body).toMatchObject({ status: 'PROCESSING', creditCost: null })
    expect((await api(`${server.url}/api/jobs/${created.body.jobId}/cancel`, { method: 'POST' })).status).toBe(200)
    expect((await getJob(created.body.jobId)).body).toMatchObject({
      status: 'CANCELLED',
      error: expect.stringContaining('canceled'),
      errorCode: 'JOB_CANCELED',
      creditCost: 0,
    })
  })
})

describe('every field published for flux-1.1-pro is taken: used, or reported', () => {
  it('guidance, steps, go_fast and resolution are not settings of FLUX 1.1 [pro]: warnings say so', async () => {
    const params = {
      guidance: 3,
      steps: 20,
      go_fast: true,
      resolution: '2MP',
      output_format: 'png',
      output_quality: 80,
    }
    const { status, body } = await generate(flux(params))
    expect(status).toBe(202)
    expect(body.warnings).toEqual([
      expect.stringMatching(/^fluxParams\.guidance: .* not used$/),
      expect.stringMatching(/^fluxParams\.steps: /),
      expect.stringMatching(/^fluxParams\.go_fast: /),
      expect.stringMatching(/^fluxParams\.resolution: /),
      expect.stringMatching(/^fluxParams\.output_quality: png is lossless/),
    ])
    expect((await generate(flux({ resolution: '1MP' }))).body.warnings).toBeUndefined()
  })

  it('input_images: one is the image prompt; more, or with image_prompt, is a 400 naming it', async () => {
    const one = await generate(flux({ input_images: [`${images.url}/input.jpg`], image_prompt_strength: 0.3 }))
    expect(one.status).toBe(202)
    expect((await server.waitForJob(one.body.jobId)).request.imagePrompt).toMatchObject({ strength: 0.3 })
    for (const params of [
      { input_images: [`${images.url}/input.jpg`, `${images.url}/input.jpg`] },
      { input_images: [`${images.url}/input.jpg`], image_prompt: `${images.url}/input.jpg` },
    ]) {
      const refused = await generate(flux(params))
      expect(refused.status).toBe(400)
      expect(Object.keys(refused.body.details)).toEqual(['fluxParams.input_images'])
    }
    const missing = await generate(flux({ input_images: [`${images.url}/missing.jpg`] }))
    expect(missing.body.details['fluxParams.input_images.0']).toEqual([expect.stringMatching(/HTTP 404/)])
  })

  it('unknown keys are refused, at the top level and in fluxParams, naming each', async () => {
    const response = await generate({ ...flux({ cfg_scale: 7 }), n: 2 })
    expect(response.status).toBe(400)
    expect(response.body).toEqual({
      error: expect.stringMatching(/^(n|fluxParams\.cfg_scale): Extra inputs are not permitted$/),
      code: 'VALIDATION_FAILED',
      details: { n: ['Extra inputs are not permitted'], 'fluxParams.cfg_scale': ['Extra inputs are not permitted'] },
    })
  })
})

describe("errors in the published envelopes: {error}, {error, details}, 402's figures", () => {
  it.each(
    [
      [{ model: 'flux-1.1-pro' }, 'prompt', 'Field required'],
      [{ prompt: 'x' }, 'model', 'Field required'],
      [{ prompt: 'x', model: 'midjourney-v7' }, 'model', "Input should be 'flux-1.1-pro'"],
      [{ prompt: 'y'.repeat(2001), model: 'flux-1.1-pro' }, 'prompt', 'String should have at most 2000 characters'],
      [flux({ aspect_ratio: 'wide' }), 'fluxParams.aspect_ratio', "String should match pattern '^(\\d+:\\d+|custom)$'"],
      [flux({ aspect_ratio: '0:1' }), 'fluxParams.aspect_ratio', 'Input should be W:H with whole numbers'],
      [flux({ output_format: 'gif' }), 'fluxParams.output_format', "Input should be 'jpg', 'jpeg', 'png' or 'webp'"],
      [flux({ output_quality: 101 }), 'fluxParams.output_quality', 'Input should be less than or equal to 100'],
      [flux({ image_prompt_strength: 1.5 }), 'fluxParams.image_prompt_strength', 'Input should be less than or equal'],
      [flux({ width: 2049 }), 'fluxParams.width', 'Input should be less than or equal to 2048'],
      [flux({ height: 255 }), 'fluxParams.height', 'Input should be greater than or equal to 256'],
      [flux({ seed: 'one' }), 'fluxParams.seed', 'Input should be a valid integer'],
      [flux({ raw: 1 }), 'fluxParams.raw', 'Input should be a valid boolean'],
      [flux({ guidance: 11 }), 'fluxParams.guidance', 'Input should be less than or equal to 10'],
      [flux({ steps: 0 }), 'fluxParams.steps', 'Input should be greater than or equal to 1'],
      [flux({ image_prompt: 'not a url' }), 'fluxParams.image_prompt', 'Input should be a valid URL'],
      [flux('big'), 'fluxParams', 'Input should be a valid dictionary'],
      [flux({}, { webhookEvents: [] }), 'webhookEvents', 'must NOT have fewer than 1 items'],
      [flux({}, { webhookUrl: 'http://a.example/h', webhookEvents: ['done'] }), 'webhookEvents.0', "Input should be '"],
      [flux({}, { webhookEvents: ['completed'] }), 'webhookEvents', 'webhookEvents needs a webhookUrl'],
      [
        flux({}, { webhookUrl: 'http://a.example/1', webhook_url: 'http://a.example/2' }),
        'webhook_url',
        'webhook_url differs from webhookUrl',
      ],
    ].map(([body, field, message]) => [field, message, body] as [string, string, unknown]),
  )('400 naming %s: %s', async (field, message, body) => {
    const before = await server.fluxhost.store.jobs.countByState()
    const response = await generate(body)
    expect(response.status).toBe(400)
    expect(response.body.error).toEqual(expect.any(String))
    expect(response.body.details[field], JSON.stringify(response.body)).toEqual([expect.stringContaining(message)])
    expect(await server.fluxhost.store.jobs.countByState()).toEqual(before)
  })

  it('any image_prompt_strength from 0 to 1 (the published range, no step)', async () => {
    expect((await generate(flux({ image_prompt_strength: 0.33, width: 256, height: 256 }))).status).toBe(202)
  })

  it('an image_prompt that cannot be fetched or is not an image is a 400 naming the field', async () => {
    for (const [url, reason] of [
      [`${images.url}/missing.jpg`, /HTTP 404/],
      [`${images.url}/not-an-image`, /Invalid image/],
      ['ftp://example.com/x.jpg', /only http and https/],
    ] as const) {
      const response = await generate(flux({ image_prompt: url }))
      expect(response.status, url).toBe(400)
      expect(response.body.details['fluxParams.image_prompt'], url).toEqual([expect.stringMatching(reason)])
    }
  })

  it('without FLUXHOST_ALLOW_PRIVATE_URLS a loopback image or webhook URL is refused', async () => {
    const strict = await startTestServer()
    try {
      const send = (body: unknown) =>
        api(`${strict.url}/v2/images/generate`, { key: null, headers: { 'x-api-key': KEY_A }, body })
      const image = await send(flux({ image_prompt: `${images.url}/input.jpg` }))
      expect(image.status).toBe(400)
      expect(image.body.details['fluxParams.image_prompt']).toEqual([expect.stringContaining('private or reserved')])
      const hook = await send(flux({}, { webhookUrl: 'http://127.0.0.1:9/hook' }))
      expect(hook.status).toBe(400)
      expect(Object.keys(hook.body.details)).toEqual(['webhookUrl'])
    } finally {
      await strict.close()
    }
  })

  it('401, 404, a job id that is not a UUID, and a malformed Idempotency-Key', async () => {
    const anonymous = await api(`${server.url}/v2/images/generate`, { key: null, body: flux({}) })
    expect(anonymous).toMatchObject({ status: 401, body: { error: expect.stringMatching(/^Missing API key/) } })
    expect((await get('/v2/jobs', 'afk_nope')).body).toEqual({
      error: 'Invalid or revoked API key.',
      code: 'UNAUTHORIZED',
    })
    const unknown = await getJob('0190c1c0-0000-7000-8000-000000000000')
    expect(unknown).toMatchObject({ status: 404, body: { error: 'No job with that id.', code: 'JOB_NOT_FOUND' } })
    // A route Apiframe has and fluxhost does not (images.edit): a 404 its SDK can read.
    const noRoute = await api(`${server.url}/v2/images/edit`, { key: null, headers: { 'x-api-key': KEY_A }, body: {} })
    expect(noRoute).toMatchObject({ status: 404, body: { error: 'No route POST /v2/images/edit', code: 'NOT_FOUND' } })
    const notUuid = await getJob('nope')
    expect(notUuid.status).toBe(400)
    expect(notUuid.body.details).toEqual({ id: ['Input should be a valid uuid'] })
    const badKey = await generate(flux({}), { 'idempotency-key': 'k'.repeat(256) })
    expect(badKey.status).toBe(400)
    expect(badKey.body.details['header.idempotency-key']).toEqual([expect.stringMatching(/1 to 255 characters/)])
  })

  it('429 carries Retry-After; 402 what the job needs and what the key may spend', async () => {
    const limited = await generate(flux({}), { 'x-fluxhost-simulate': 'rate_limited' })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('2')
    expect(limited.body).toEqual({ error: expect.stringMatching(/too many requests/), code: 'RATE_LIMITED' })
    const made = await api(`${server.url}/api/admin/keys`, { body: { name: 'three credits' } })
    await api(`${server.url}/api/admin/keys/${made.body.apiKey.id}/credits`, { body: { set: 3 } })
    const broke = await generate(flux({}), {}, made.body.key)
    expect(broke).toMatchObject({
      status: 402,
      body: {
        error: 'Insufficient credits',
        creditsRequired: 4,
        creditsAvailable: 3,
        code: 'CREDITS_EXHAUSTED',
        message: expect.stringContaining('3 credits left'),
      },
    })
  })
})

describe('webhooks: webhookUrl and webhook_url, webhookEvents, webhookStatus', () => {
  it("the seeds' webhook_url: {jobId, type, status, …}, signed both ways; webhookStatus delivered", async () => {
    const hook = await receiver()
    const created = await generate(flux({ width: 256, height: 256 }, { webhook_url: hook.url }))
    const [received] = await hook.received(1)
    expect(received!.headers).toMatchObject({
      'x-webhook-signature': expect.stringMatching(/^sha256=[0-9a-f]{64}$/),
      'webhook-signature': expect.stringMatching(/^v1,/),
    })
    const body = JSON.parse(received!.body)
    expect(Object.keys(body).slice(0, 3)).toEqual(['jobId', 'type', 'status'])
    expect(body).toMatchObject({ jobId: created.body.jobId, type: 'completed', status: 'COMPLETED', creditCost: 4 })
    expect(body).not.toHaveProperty('webhookStatus')
    const job = await jobWhen(created.body.jobId, (j) => j.webhookStatus === 'delivered')
    expect(job.input.webhookUrl).toBe(hook.url)
  })

  it('webhookEvents filters the endings sent: none for an ending not listed (webhookStatus null)', async () => {
    const hook = await receiver()
    const ok = await generate(flux({ width: 256, height: 256 }, { webhookUrl: hook.url, webhookEvents: ['failed'] }))
    const bad = await generate(flux({}, { webhookUrl: hook.url, webhookEvents: ['failed'] }), {
      'x-fluxhost-simulate': 'error',
    })
    const [received] = await hook.received(1)
    expect(JSON.parse(received!.body)).toMatchObject({ jobId: bad.body.jobId, type: 'failed', status: 'FAILED' })
    // The success's delivery is settled without a POST.
    const deliveries = async () => (await api(`${server.url}/api/jobs/${ok.body.jobId}/deliveries`)).body.data
    await new Promise<void>((resolve) => {
      const check = () =>
        void deliveries().then((d) => {
          if (d[0]?.state !== 'stopped') return
          server.fluxhost.webhookEvents.off('attempt', check)
          resolve()
        })
      server.fluxhost.webhookEvents.on('attempt', check)
      check()
    })
    expect((await deliveries())[0].lastError).toMatch(/webhookEvents \[failed\] do not include completed/)
    expect(hook.requests.map((r) => JSON.parse(r.body).jobId)).toEqual([bad.body.jobId])
    expect((await getJob(ok.body.jobId)).body.webhookStatus).toBeNull()
    expect((await jobWhen(bad.body.jobId, (j) => j.webhookStatus === 'delivered')).status).toBe('FAILED')
  })

  it('progress is accepted and reported as not sent; a receiver that refuses makes webhookStatus failed', async () => {
    const hook = await receiver(() => ({ status: 400 }))
    const created = await generate(
      flux({ width: 256, height: 256 }, { webhookUrl: hook.url, webhookEvents: ['progress', 'completed'] }),
    )
    expect(created.body.warnings).toEqual([expect.stringMatching(/^webhookEvents: progress is not sent/)])
    expect((await getJob(created.body.jobId)).body.webhookStatus).toMatch(/pending|delivered|failed/)
    const job = await jobWhen(created.body.jobId, (j) => j.webhookStatus === 'failed')
    expect(job.input.webhookEvents).toEqual(['progress', 'completed'])
  })
})

describe('the list, the caller and the catalog', () => {
  it('filters by status and model (fluxhost ids too); team scope for admin keys', async () => {
    const dev = await api(`${server.url}/v1/flux-dev`, { key: KEY_B, body: { prompt: 'dev', width: 256, height: 256 } })
    const pro = (await generate(flux({ width: 256, height: 256 }), {}, KEY_B)).body.jobId
    await Promise.all([server.waitForJob(dev.body.id), server.waitForJob(pro)])
    const devOnly = await get('/v2/jobs?model=flux-dev', KEY_B)
    expect(devOnly.body.jobs.map((j: any) => [j.id, j.model])).toEqual([[dev.body.id, 'flux-dev']])
    const proOnly = await get('/v2/jobs?model=flux-1.1-pro&status=COMPLETED', KEY_B)
    expect(proOnly.body.jobs.map((j: any) => j.id)).toEqual([pro])
    expect((await get('/v2/jobs?model=dall-e-3', KEY_B)).body).toEqual({ jobs: [], nextCursor: null, hasMore: false })
    // KEY_A (admin) sees KEY_B's job with scope=team only.
    expect((await get(`/v2/jobs?search=${pro}`)).body.jobs).toEqual([])
    expect((await get(`/v2/jobs?search=${pro}&scope=team`)).body.jobs.map((j: any) => j.id)).toEqual([pro])
    const item = (await get(`/v2/jobs?search=${pro}`, KEY_B)).body.jobs[0]
    expect(item).not.toHaveProperty('input')
    expect(item).toMatchObject({ expired: false, creditCost: 4, progress: 100 })
  })

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['cursor=nope', 'cursor'],
    ['status=DONE', 'status'],
    ['scope=org', 'scope'],
    ['search=abc', 'search'],
    ['include_models=yes', 'include_models'],
  ])('GET /v2/jobs?%s → 400 naming %s', async (query, field) => {
    const response = await get(`/v2/jobs?${query}`)
    expect(response.status).toBe(400)
    expect(Object.keys(response.body.details)).toEqual([field])
  })

  it('me for a user key without limits: MEMBER, unlimited credits; models needs no key', async () => {
    const made = await api(`${server.url}/api/admin/keys`, { body: { name: 'member' } })
    const me = await get('/v2/me', made.body.key)
    expect(me.body).toEqual({
      user: { id: made.body.apiKey.id, email: null, role: 'MEMBER' },
      team: {
        id: made.body.apiKey.id,
        name: 'member',
        credits: 1_000_000_000,
        unlimited: true,
        plan: 'self-hosted',
        customerId: null,
      },
      apiKey: { id: made.body.apiKey.id, name: 'member', prefix: made.body.key.slice(0, 10) },
    })
    expect((await get('/v2/me', null)).status).toBe(401)
    expect((await get('/v2/models', null)).body.models.map((m: any) => m.id)).toEqual(['flux-1.1-pro'])
    expect((await get('/v2/models?modality=image', 'afk_wrong')).status).toBe(200)
  })
})
