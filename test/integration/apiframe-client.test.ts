import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import createClient, { type Client } from 'openapi-fetch'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { components, paths } from '../clients/apiframe/schema.js'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

// Apiframe's published API driven by a client generated from its OpenAPI document's facts
// (test/clients/apiframe: openapi-typescript types, openapi-fetch requests), with the parts of
// Apiframe's Node SDK that a client must reproduce written out below, as the SDK does them:
// its error mapping, `jobs.waitFor` and its webhook signature check.

type Job = components['schemas']['Job']
type ApiframeClient = Client<paths>

let server: TestServer
beforeAll(async () => {
  // Loopback webhook receivers; a short retry schedule.
  server = await startTestServer({ FLUXHOST_ALLOW_PRIVATE_URLS: '1', FLUXHOST_WEBHOOK_RETRY_SCHEDULE: '0,20ms' })
})
afterAll(() => server.close())

/** A client as the SDK configures its requests: the key in X-API-Key, JSON, its user agent. */
const clientFor = (key: string): ApiframeClient =>
  createClient<paths>({
    baseUrl: server.url,
    headers: { 'x-api-key': key, accept: 'application/json', 'user-agent': 'apiframe-sdk-node/2.0.0-beta.0' },
  })

/** The SDK's errors (errors.ts fromResponse): the message only from a string `body.error`, else generic. */
class ApiframeError extends Error {
  readonly details?: Record<string, string[]>
  readonly creditsRequired: number
  readonly creditsAvailable: number
  readonly requestId: string | null
  readonly retryAfterSeconds: number
  constructor(
    readonly status: number,
    body: unknown,
    headers?: Headers,
  ) {
    const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
    super(typeof fields.error === 'string' ? fields.error : `Apiframe API error (HTTP ${status})`)
    if (status === 400) this.details = fields.details as Record<string, string[]> | undefined
    this.creditsRequired = Number(fields.creditsRequired ?? 0)
    this.creditsAvailable = Number(fields.creditsAvailable ?? 0)
    this.requestId = headers?.get('x-request-id') ?? null
    this.retryAfterSeconds = Number(headers?.get('retry-after') ?? 1) || 1
  }
}

/** openapi-fetch's answer as the SDK returns it: the data, or its error thrown. */
function unwrap<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.error !== undefined || !answer.response.ok)
    throw new ApiframeError(answer.response.status, answer.error, answer.response.headers)
  return answer.data as T
}

/**
 * The SDK's `jobs.waitFor`: polls until COMPLETED (returned), FAILED (throws `job.error`) or
 * CANCELLED. Between polls the SDK waits 2–5 s; here `pause` waits for the job's next event.
 */
async function waitFor(client: ApiframeClient, id: string, pause: () => Promise<unknown>): Promise<Job> {
  for (;;) {
    const job = unwrap(await client.GET('/v2/jobs/{id}', { params: { path: { id } } }))
    if (job.status === 'COMPLETED') return job
    if (job.status === 'FAILED') {
      // As the SDK does (`new ApiframeError(job.error ?? 'Job failed')`): whatever `error` is, as a
      // string; an object would read "[object Object]".
      const error = new ApiframeError(200, {})
      error.message = `${(job as { error: unknown }).error ?? 'Job failed'}`
      throw error
    }
    if (job.status === 'CANCELLED') throw new ApiframeError(200, { error: 'Job was cancelled' })
    await pause()
  }
}

/** The SDK's webhook check: `sha256=<hex>` (or bare hex), HMAC-SHA256 of the raw body keyed with SHA-256(key). */
function verifySignature(rawBody: string, header: string | string[] | undefined, apiKey: string): boolean {
  if (typeof header !== 'string') return false
  const given = Buffer.from(header.startsWith('sha256=') ? header.slice(7) : header, 'hex')
  const secret = createHash('sha256').update(apiKey, 'utf8').digest()
  const expected = createHmac('sha256', secret).update(rawBody, 'utf8').digest()
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** Throws what `fn` throws, as an ApiframeError. */
async function failure(fn: () => Promise<unknown>): Promise<ApiframeError> {
  try {
    await fn()
  } catch (error) {
    if (error instanceof ApiframeError) return error
    throw error
  }
  throw new Error('expected an ApiframeError')
}

/** A new user key, with a prepaid balance when `credits` is given. */
async function newKey(credits?: number): Promise<{ key: string; id: string }> {
  const made = await api(`${server.url}/api/admin/keys`, { key: KEY_A, body: { name: 'apiframe client' } })
  expect(made.status).toBe(201)
  if (credits !== undefined) {
    const set = await api(`${server.url}/api/admin/keys/${made.body.apiKey.id}/credits`, { body: { set: credits } })
    expect(set.status, set.text).toBe(200)
  }
  return { key: made.body.key, id: made.body.apiKey.id }
}

const af = () => clientFor(KEY_A)
const submit = async (client: ApiframeClient, fluxParams: components['schemas']['FluxParams'] = {}) =>
  unwrap(
    await client.POST('/v2/images/generate', { body: { model: 'flux-1.1-pro', prompt: 'a quiet harbor', fluxParams } }),
  )

describe("Apiframe's API through a client generated from its published document", () => {
  it('submit, wait, and the image at the size asked (the SDK smoke test: 512×512 jpg)', async () => {
    const accepted = await submit(af(), { width: 512, height: 512, output_format: 'jpg' })
    expect(accepted).toEqual({ jobId: expect.any(String), status: 'QUEUED' })
    const job = await waitFor(af(), accepted.jobId, () => server.waitForJob(accepted.jobId))
    expect(job).toMatchObject({
      id: accepted.jobId,
      status: 'COMPLETED',
      model: 'flux-1.1-pro',
      progress: 100,
      error: null,
      creditCost: 4,
      webhookStatus: null,
      expired: false,
      input: { model: 'flux-1.1-pro', fluxParams: { width: 512, height: 512, output_format: 'jpg' } },
    })
    expect(new Date(job.completedAt!).getTime()).toBeGreaterThanOrEqual(new Date(job.createdAt).getTime())
    const result = job.result as { url: string; images: { url: string; width: number; height: number }[] }
    expect(result.images).toEqual([{ url: result.url, width: 512, height: 512 }])
    const file = Buffer.from(await (await fetch(result.url)).arrayBuffer())
    expect(await sharp(file).metadata()).toMatchObject({ format: 'jpeg', width: 512, height: 512 })
  })

  it('a failed job makes waitFor throw its error as the message', async () => {
    const accepted = unwrap(
      await af().POST('/v2/images/generate', {
        body: { model: 'flux-1.1-pro', prompt: 'doomed' },
        headers: { 'x-fluxhost-simulate': 'error' },
      }),
    )
    const error = await failure(() => waitFor(af(), accepted.jobId, () => server.waitForJob(accepted.jobId)))
    expect(error.message).toMatch(/simulated/)
    expect(error.message).not.toBe('[object Object]')
    const job = unwrap(await af().GET('/v2/jobs/{id}', { params: { path: { id: accepted.jobId } } }))
    expect(job).toMatchObject({ status: 'FAILED', error: error.message, creditCost: 0 })
  })

  it('validation errors carry the message and details by field path', async () => {
    const error = await failure(() => submit(af(), { width: 100, output_quality: 101 }))
    expect(error.status).toBe(400)
    expect(error.message).toMatch(/fluxParams\.(width|output_quality)/)
    expect(error.details).toEqual({
      'fluxParams.width': ['Input should be greater than or equal to 256'],
      'fluxParams.output_quality': ['Input should be less than or equal to 100'],
    })
    // additionalProperties: false, as published.
    const extra = await failure(() => submit(af(), { cfg: 7 } as never))
    expect(extra.details).toEqual({ 'fluxParams.cfg': ['Extra inputs are not permitted'] })
  })

  it('401 for a wrong key, with a message', async () => {
    const error = await failure(() => submit(clientFor('afk_wrong')))
    expect(error).toMatchObject({ status: 401, message: 'Invalid or revoked API key.' })
    expect(error.requestId).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('402 for a key without credits: what the job needs and what the key has', async () => {
    const { key } = await newKey(0)
    const error = await failure(() => submit(clientFor(key)))
    expect(error).toMatchObject({
      status: 402,
      message: 'Insufficient credits',
      creditsRequired: 4,
      creditsAvailable: 0,
    })
    const me = unwrap(await clientFor(key).GET('/v2/me'))
    expect(me.team).toMatchObject({ credits: 0 })
  })

  it('a webhook signed as the SDK verifies it, and webhookStatus delivered', async () => {
    const hook = await startReceiver()
    try {
      const accepted = unwrap(
        await af().POST('/v2/images/generate', {
          body: {
            model: 'flux-1.1-pro',
            prompt: 'a lighthouse',
            fluxParams: { aspect_ratio: '2:3' },
            webhookUrl: hook.url,
            webhookEvents: ['completed', 'failed'],
          },
        }),
      )
      const [received] = await hook.received(1)
      expect(verifySignature(received!.body, received!.headers['x-webhook-signature'], KEY_A)).toBe(true)
      expect(verifySignature(`${received!.body} `, received!.headers['x-webhook-signature'], KEY_A)).toBe(false)
      expect(verifySignature(received!.body, received!.headers['x-webhook-signature'], 'another-key')).toBe(false)
      const body = JSON.parse(received!.body)
      expect(body).toMatchObject({
        jobId: accepted.jobId,
        type: 'completed',
        status: 'COMPLETED',
        id: accepted.jobId,
        creditCost: 4,
        result: { images: [{ width: 832, height: 1248 }] },
      })
      const delivered = await new Promise<Job>((resolve, reject) => {
        const check = () =>
          af()
            .GET('/v2/jobs/{id}', { params: { path: { id: accepted.jobId } } })
            .then(unwrap)
            .then((job) => {
              if (job.webhookStatus !== 'delivered') return
              server.fluxhost.webhookEvents.off('attempt', check)
              resolve(job)
            }, reject)
        server.fluxhost.webhookEvents.on('attempt', check)
        void check()
      })
      expect(delivered.input).toMatchObject({ webhookUrl: hook.url, webhookEvents: ['completed', 'failed'] })
    } finally {
      await hook.close()
    }
  })

  it('lists jobs a page at a time by cursor, filters them, and finds one by id', async () => {
    const { key } = await newKey()
    const client = clientFor(key)
    const made: string[] = []
    for (let i = 0; i < 5; i++) made.push((await submit(client, { width: 256, height: 256 })).jobId)
    await Promise.all(made.map((id) => server.waitForJob(id)))
    const seen: string[] = []
    let cursor: string | undefined
    for (let page = 0; ; page++) {
      const list = unwrap(await client.GET('/v2/jobs', { params: { query: { limit: 2, cursor } } }))
      expect(list.jobs.length).toBe(page < 2 ? 2 : 1)
      expect(list.hasMore).toBe(page < 2)
      seen.push(...list.jobs.map((job) => job.id))
      expect(list.jobs.every((job) => job.status === 'COMPLETED' && job.expired === false)).toBe(true)
      if (!list.nextCursor) break
      cursor = list.nextCursor
    }
    expect(seen).toEqual([...made].reverse())
    const failed = unwrap(await client.GET('/v2/jobs', { params: { query: { status: 'FAILED' } } }))
    expect(failed).toEqual({ jobs: [], nextCursor: null, hasMore: false })
    const found = unwrap(
      await client.GET('/v2/jobs', { params: { query: { search: made[2]!, include_models: 'true' } } }),
    )
    expect(found.jobs.map((job) => job.id)).toEqual([made[2]])
    expect(found.models).toContain('flux-1.1-pro')
    // Another key's jobs are not in its list, nor found by id.
    const other = unwrap(await af().GET('/v2/jobs', { params: { query: { search: made[2]! } } }))
    expect(other.jobs).toEqual([])
    const team = await failure(() => client.GET('/v2/jobs', { params: { query: { scope: 'team' } } }).then(unwrap))
    expect(team.status).toBe(403)
  })

  it('me: the calling key; models: the catalog, without a key', async () => {
    const me = unwrap(await af().GET('/v2/me'))
    expect(me).toMatchObject({
      user: { role: 'ADMIN' },
      team: { credits: expect.any(Number), plan: 'self-hosted' },
      apiKey: { name: 'FLUXHOST_API_KEYS[0]', prefix: KEY_A.slice(0, 6) },
    })
    const anonymous = createClient<paths>({ baseUrl: server.url })
    const catalog = unwrap(await anonymous.GET('/v2/models'))
    expect(catalog.models).toEqual([
      expect.objectContaining({
        id: 'flux-1.1-pro',
        label: 'FLUX 1.1 [pro]',
        modality: 'image',
        costMin: 4,
        costMax: 4,
        pricingMode: 'per-output',
      }),
    ])
    expect(unwrap(await anonymous.GET('/v2/models', { params: { query: { modality: 'video' } } }))).toEqual({
      models: [],
    })
    const bad = await failure(() =>
      anonymous.GET('/v2/models', { params: { query: { modality: 'smell' as never } } }).then(unwrap),
    )
    expect(bad.details).toHaveProperty('modality')
  })

  it('an Idempotency-Key replays the first job; the same key with another body is a 409', async () => {
    const send = (prompt: string) =>
      af().POST('/v2/images/generate', {
        body: { model: 'flux-1.1-pro', prompt },
        params: { header: { 'Idempotency-Key': `apiframe-${'k'.repeat(200)}-1` } },
      })
    const first = await send('once')
    const again = await send('once')
    expect(unwrap(again).jobId).toBe(unwrap(first).jobId)
    expect(again.response.headers.get('idempotent-replayed')).toBe('true')
    const conflict = await failure(async () => unwrap(await send('twice')))
    expect(conflict.status).toBe(409)
    expect(conflict.message).toMatch(/Idempotency-Key/)
  })
})
