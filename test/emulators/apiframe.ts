import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  dropConnection,
  type ProviderEmulator,
  type ProviderScript,
  readBody,
  renderImage,
  sendJson,
} from './provider.js'

/** `fluxParams` of flux-1.1-pro and ultra (one schema for both; `additionalProperties: false`). */
type Rule = { int?: [number, number]; num?: [number, number]; oneOf?: readonly string[]; bool?: true; str?: true }
const FLUX_PARAMS: Record<string, Rule> = {
  aspect_ratio: { str: true },
  width: { int: [256, 2048] },
  height: { int: [256, 2048] },
  output_format: { oneOf: ['jpg', 'png', 'webp'] },
  output_quality: { int: [0, 100] },
  image_prompt: { str: true },
  image_prompt_strength: { num: [0, 1] },
  input_images: {},
  prompt_upsampling: { bool: true },
  raw: { bool: true },
  seed: { int: [-(2 ** 53), 2 ** 53] },
  guidance: { num: [1.5, 10] },
  steps: { int: [1, 50] },
  go_fast: { bool: true },
  resolution: { str: true },
}
const TOP_LEVEL = new Set(['model', 'prompt', 'fluxParams', 'webhookUrl', 'webhookEvents'])

/** Apiframe's error text for a refused prompt or image (a doc example); it has no moderation status. */
export const APIFRAME_CONTENT_POLICY = 'Provider returned an error: content policy violation'

export interface EmulatedJob {
  id: string
  body: any
  script: ProviderScript
  idempotencyKey: string | undefined
  status: 'QUEUED' | 'PROCESSING' | 'COMPLETED' | 'FAILED'
  reads: number
  pollErrors: number
  createdAt: number
  completedAt: number | null
  error: string | null
}

/** The JSON path and message of the first field Apiframe's validation (Zod) would reject, or undefined. */
function invalidField(body: any): [string, string] | undefined {
  if (!body || typeof body !== 'object') return ['', 'Expected object']
  const extra = Object.keys(body).find((key) => !TOP_LEVEL.has(key))
  if (extra) return [extra, 'Unrecognized key']
  if (body.model !== 'flux-1.1-pro' && body.model !== 'flux-1.1-pro-ultra') return ['model', 'Invalid enum value']
  if (typeof body.prompt !== 'string' || body.prompt.length < 1 || body.prompt.length > 2000)
    return ['prompt', 'String must contain 1 to 2000 characters']
  for (const [key, value] of Object.entries((body.fluxParams ?? {}) as Record<string, any>)) {
    const rule = FLUX_PARAMS[key]
    if (!rule) return [`fluxParams.${key}`, 'Unrecognized key']
    const ok = rule.int
      ? Number.isInteger(value) && value >= rule.int[0] && value <= rule.int[1]
      : rule.num
        ? typeof value === 'number' && value >= rule.num[0] && value <= rule.num[1]
        : rule.oneOf
          ? rule.oneOf.includes(value)
          : rule.bool
            ? typeof value === 'boolean'
            : rule.str
              ? typeof value === 'string'
              : true
    if (!ok) return [`fluxParams.${key}`, 'Invalid value']
    if (key === 'aspect_ratio' && !/^\d+:\d+$/.test(value)) return [`fluxParams.${key}`, 'Invalid']
  }
  return undefined
}

/** The size a job renders at: its width and height, else its aspect ratio at about 1 MP (4 MP for ultra). */
function sizeOf(body: any): { width: number; height: number } {
  const params = body.fluxParams ?? {}
  if (params.width && params.height) return { width: params.width, height: params.height }
  const [w, h] = String(params.aspect_ratio ?? '1:1')
    .split(':')
    .map(Number) as [number, number]
  const area = (body.model === 'flux-1.1-pro-ultra' ? 4 : 1) * 1024 * 1024
  const round = (value: number) => Math.max(32, Math.round(value / 32) * 32)
  return { width: round(Math.sqrt((area * w) / h)), height: round(Math.sqrt((area * h) / w)) }
}

/**
 * Apiframe's v2 API as its OpenAPI document and docs describe it (reference/apiframe-openai.md,
 * providers.md §5b): `X-API-Key`, `POST /v2/images/generate` → 202 `{jobId, status}` with
 * `Idempotency-Key` replays, `GET /v2/jobs/{id}` → Job (progress 0–100), `GET /v2/me`, `{error}`
 * bodies, and no cancel endpoint. Result files are served from this server.
 */
export async function startApiframeEmulator(options: {
  key: string
  /** How a COMPLETED job's `result` looks: a URL string (docs-v2, the SDK's tests) or `{images: [url]}`. */
  result?: 'string' | 'object'
  /** Whether an `Idempotency-Key` seen before returns its job, as documented (default true). */
  replays?: boolean
}): Promise<
  ProviderEmulator & { jobs: Map<string, EmulatedJob>; reads(): number; resultAs(shape: 'string' | 'object'): void }
> {
  const jobs = new Map<string, EmulatedJob>()
  const byKey = new Map<string, { jobId: string; body: string }>()
  const submits: ProviderEmulator['submits'] = []
  let current: ProviderScript = {}
  let shape = options.result ?? 'string'
  let reads = 0
  let base = ''

  const error = (res: http.ServerResponse, status: number, message: string, extra = {}, headers = {}) =>
    sendJson(res, status, { error: message, ...extra }, headers)
  const ended = (job: EmulatedJob) => job.status === 'COMPLETED' || job.status === 'FAILED'
  const view = (job: EmulatedJob) => {
    const ext = job.body.fluxParams?.output_format ?? 'jpg'
    const url = `${base}/files/${job.id}/0.${ext}`
    const done = job.status === 'COMPLETED'
    return {
      id: job.id,
      status: job.status,
      model: job.body.model,
      progress: done ? 100 : job.status === 'PROCESSING' ? Math.min(99, job.reads * 30) : 0,
      ...(done ? { result: shape === 'string' ? url : { images: [url] } } : {}),
      error: job.error,
      // Credits per image are not published [UNCONFIRMED]; refunded (null) when FAILED.
      creditCost: done ? 4 : null,
      webhookStatus: null,
      createdAt: new Date(job.createdAt).toISOString(),
      completedAt: job.completedAt === null ? null : new Date(job.completedAt).toISOString(),
      expired: false,
      input: job.body,
    }
  }
  /** A status read moves the job on: QUEUED, PROCESSING, then its outcome. */
  const advance = (job: EmulatedJob) => {
    if (ended(job)) return
    job.reads++
    const early = Date.now() - job.createdAt < (job.script.delayMs ?? 0)
    if (job.script.hang || early || job.reads <= (job.script.pendingPolls ?? 2)) {
      job.status = job.reads === 1 && !job.script.hang ? 'QUEUED' : 'PROCESSING'
      return
    }
    const outcome = job.script.outcome ?? 'ready'
    job.completedAt = Date.now()
    job.status = outcome === 'ready' ? 'COMPLETED' : 'FAILED'
    // Apiframe says the same for a refused prompt and a refused image.
    if (outcome === 'error') job.error = 'Provider returned an error: emulated failure'
    else if (outcome !== 'ready') job.error = APIFRAME_CONTENT_POLICY
  }

  const generate = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const raw = await readBody(req)
    let body: any
    try {
      body = JSON.parse(raw)
    } catch {
      body = raw
    }
    submits.push({ path: '/v2/images/generate', body, headers: req.headers })
    const script = current
    if (script.dropSubmit) return dropConnection(req)
    if (req.headers['x-api-key'] !== options.key || script.refuse === 'bad_key')
      return error(res, 401, 'Invalid or missing API key')
    if (script.refuse === 'no_credit')
      return error(res, 402, 'Insufficient credits', { creditsRequired: 4, creditsAvailable: 0 })
    if (script.refuse === 'rate_limited')
      return error(res, 429, 'Too many requests', {}, { 'retry-after': String(script.retryAfterS ?? 1) })
    if (script.refuse === 'server_error') return error(res, 500, 'Internal server error')
    const invalid = script.refuse === 'invalid' ? ['prompt', 'emulated rejection'] : invalidField(body)
    if (invalid)
      return error(res, 400, 'Validation failed', { details: { [invalid[0] as string]: [invalid[1] as string] } })
    const key = req.headers['idempotency-key'] as string | undefined
    const replay = key && options.replays !== false ? byKey.get(key) : undefined
    if (replay) {
      // The SDK says a reused key with another body is a 409 [UNCONFIRMED by the spec].
      if (replay.body !== raw) return error(res, 409, 'Idempotency key reused with a different request')
      return sendJson(res, 202, { jobId: replay.jobId, status: jobs.get(replay.jobId)!.status })
    }
    const id = randomUUID()
    jobs.set(id, {
      ...{ id, body, script, idempotencyKey: key, status: 'QUEUED', reads: 0, pollErrors: 0 },
      ...{ createdAt: Date.now(), completedAt: null, error: null },
    })
    if (key) byKey.set(key, { jobId: id, body: raw })
    sendJson(res, 202, { jobId: id, status: 'QUEUED' })
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', `http://${req.headers.host}`).pathname
    const file = /^\/files\/([^/]+)\/0\.(jpg|png|webp)$/.exec(path)
    if (req.method === 'GET' && file) {
      const job = jobs.get(file[1]!)
      if (job?.status !== 'COMPLETED') return error(res, 404, 'Not found')
      const { width, height } = sizeOf(job.body)
      const format = file[2] === 'jpg' ? 'jpeg' : (file[2] as 'png' | 'webp')
      void renderImage(width, height, format).then((data) =>
        res.writeHead(200, { 'content-type': `image/${format}` }).end(data),
      )
      return
    }
    if (req.method === 'POST' && path === '/v2/images/generate') {
      generate(req, res).catch(() => res.destroy())
      return
    }
    req.resume()
    if (req.headers['x-api-key'] !== options.key) return error(res, 401, 'Invalid or missing API key')
    if (req.method === 'GET' && path === '/v2/me')
      return sendJson(res, 200, {
        user: { id: randomUUID(), email: 'emulator@fluxhost.test', role: 'OWNER' },
        team: { id: randomUUID(), name: 'emulator', credits: 1000, plan: 'pay-as-you-go', customerId: null },
        apiKey: { id: randomUUID(), name: 'fluxhost', prefix: options.key.slice(0, 8) },
      })
    const read = /^\/v2\/jobs\/([^/]+)$/.exec(path)
    // Only GET exists on a job: Apiframe has no cancel endpoint.
    if (req.method !== 'GET' || !read) return error(res, 404, 'Not found')
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(read[1]!))
      return error(res, 400, 'Invalid job id')
    const job = jobs.get(read[1]!)
    if (!job) return error(res, 404, 'Job not found')
    reads++
    if (job.pollErrors < (job.script.pollErrors ?? 0)) {
      job.pollErrors++
      return error(res, 503, 'Service temporarily unavailable')
    }
    advance(job)
    sendJson(res, 200, view(job))
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: base,
    key: options.key,
    script: (next) => (current = { ...next }),
    submits,
    // Always empty: there is no way to cancel an Apiframe job.
    cancels: [],
    active: () => [...jobs.values()].filter((job) => !ended(job)).length,
    jobs,
    reads: () => reads,
    resultAs: (next) => (shape = next),
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
