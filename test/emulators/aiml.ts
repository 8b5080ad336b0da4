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

/** The answer's shape: fal's (the docs' example), or OpenAI's `data[]` with URLs or base64. */
export type AimlShape = 'fal' | 'openai-url' | 'openai-b64'

export interface AimlEmulator extends ProviderEmulator {
  shape(next: AimlShape): void
  /** Error bodies as `{message, statusCode}` (default) or OpenAI's `{error: {message, type, param, code}}`. */
  errorShape(next: 'message' | 'openai'): void
  /** Result files fetched from `/files/…`, by path. */
  downloads: string[]
}

type Refusal = NonNullable<ProviderScript['refuse']>

// AIML documents no error answers [UNCONFIRMED]: the statuses are the usual ones, the messages
// made up, the moderation of a prompt a 400 that says so.
const REFUSALS: Record<Refusal | 'request_moderated' | 'error', { status: number; message: string }> = {
  bad_key: { status: 401, message: 'Invalid API key. Get one at https://aimlapi.com/app/keys' },
  no_credit: { status: 402, message: 'Insufficient balance: top up your AIML account to continue' },
  rate_limited: { status: 429, message: 'Too many requests, please slow down' },
  invalid: { status: 400, message: 'image_size.width must be a multiple of 32' },
  server_error: { status: 500, message: 'Internal server error' },
  request_moderated: { status: 400, message: 'Your prompt was flagged by the content moderation system' },
  error: { status: 500, message: 'Image generation failed' },
}

/** fal's preset sizes, which AIML's `image_size` also takes. */
const PRESETS: Record<string, [number, number]> = {
  square_hd: [1024, 1024],
  square: [512, 512],
  portrait_4_3: [768, 1024],
  portrait_16_9: [576, 1024],
  landscape_4_3: [1024, 768],
  landscape_16_9: [1024, 576],
}
/** Ultra's ratios [UNCONFIRMED: the docs say an enum without the list; this is fal's]. */
const RATIOS = ['21:9', '16:9', '4:3', '3:2', '1:1', '2:3', '3:4', '9:16', '9:21']
/** Size limits per model, from each model's page. */
const LIMITS: Record<string, [number, number]> = { 'flux-pro/v1.1': [256, 1440], 'flux/dev': [512, 1536] }

/** The size an accepted body makes, or why the body is refused (the docs' field rules). */
function sizeOrProblem(body: any): { width: number; height: number; format: 'jpeg' | 'png' } | string {
  const model = body?.model
  if (model !== 'flux-pro/v1.1' && model !== 'flux-pro/v1.1-ultra' && model !== 'flux/dev')
    return `model must be one of flux-pro/v1.1, flux-pro/v1.1-ultra, flux/dev`
  if (typeof body.prompt !== 'string' || body.prompt === '' || body.prompt.length > 4000)
    return 'prompt must be a string of at most 4000 characters'
  if (body.num_images !== undefined && !(Number.isInteger(body.num_images) && body.num_images >= 1))
    return 'num_images must be between 1 and 4'
  if (body.num_images > 4) return 'num_images must be between 1 and 4'
  if (body.seed !== undefined && !(Number.isInteger(body.seed) && body.seed >= 1)) return 'seed must be >= 1'
  if (body.enable_safety_checker !== undefined && typeof body.enable_safety_checker !== 'boolean')
    return 'enable_safety_checker must be a boolean'
  if (model === 'flux/dev') {
    for (const field of ['safety_tolerance', 'output_format', 'aspect_ratio', 'raw'])
      if (body[field] !== undefined) return `${field} is not a flux/dev field`
  } else {
    // A string enum: a number is refused, as the schema says.
    if (body.safety_tolerance !== undefined && !['1', '2', '3', '4', '5', '6'].includes(body.safety_tolerance))
      return "safety_tolerance must be one of '1', '2', '3', '4', '5', '6'"
    if (body.output_format !== undefined && !['jpeg', 'png'].includes(body.output_format))
      return "output_format must be 'jpeg' or 'png'"
  }
  const format: 'jpeg' | 'png' = model === 'flux/dev' ? 'png' : (body.output_format ?? 'jpeg')
  if (model === 'flux-pro/v1.1-ultra') {
    if (body.image_size !== undefined) return 'image_size is not a flux-pro/v1.1-ultra field'
    const ratio = body.aspect_ratio ?? '16:9'
    if (!RATIOS.includes(ratio)) return `aspect_ratio must be one of ${RATIOS.join(', ')}`
    if (body.raw !== undefined && typeof body.raw !== 'boolean') return 'raw must be a boolean'
    // About 4 MP at the ratio, in multiples of 32 (16:9 → 2752×1536, the docs' fixed size).
    const [w, h] = ratio.split(':').map(Number) as [number, number]
    const side = (r: number) => Math.round(Math.sqrt(2752 * 1536 * r) / 32) * 32
    return { width: side(w / h), height: side(h / w), format }
  }
  const size = body.image_size ?? 'landscape_4_3'
  const [width, height] = typeof size === 'string' ? (PRESETS[size] ?? [0, 0]) : [size?.width, size?.height]
  const [min, max] = LIMITS[model]!
  for (const side of [width, height])
    if (!(Number.isInteger(side) && side >= min && side <= max && side % 32 === 0))
      return `image_size must be a preset or {width, height} of ${min}–${max}, multiples of 32`
  return { width, height, format }
}

/**
 * The AIML API as its model pages describe it (seed 004, reference/providers.md §5c):
 * `POST /v1/images/generations` with `Authorization: Bearer`, answered 201 once the images are
 * made, in fal's shape `{images: [{url, width, height, content_type}], timings, seed,
 * has_nsfw_concepts, prompt}` or, with `shape()`, OpenAI's `{created, data: [...]}`;
 * `GET /v1/billing/balance` and `GET /v1/models`. An output the safety checker flags comes back
 * with `has_nsfw_concepts: [true]` (in either shape). Scripts: `pendingPolls` and `pollErrors`
 * are ignored (nothing is polled); `delayMs` holds the answer back; `hang` never answers.
 */
export async function startAimlEmulator(options: {
  key: string
  script?: ProviderScript
  shape?: AimlShape
}): Promise<AimlEmulator> {
  let script: ProviderScript = options.script ?? {}
  let shape: AimlShape = options.shape ?? 'fal'
  let errors: 'message' | 'openai' = 'message'
  let active = 0
  let next = 0
  const submits: ProviderEmulator['submits'] = []
  const downloads: string[] = []
  const files = new Map<string, { width: number; height: number; format: 'jpeg' | 'png' }>()

  const fail = (res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}) =>
    sendJson(
      res,
      status,
      errors === 'openai'
        ? { error: { message, type: status === 401 ? 'authentication_error' : 'api_error', param: null, code: null } }
        : { message, statusCode: status },
      headers,
    )

  const generate = async (req: http.IncomingMessage, res: http.ServerResponse, raw: string) => {
    let body: any
    try {
      body = JSON.parse(raw)
    } catch {
      body = undefined
    }
    submits.push({ path: '/v1/images/generations', body, headers: req.headers })
    const now = script
    if (now.dropSubmit) return dropConnection(req)
    if (now.refuse) {
      const headers: Record<string, string> =
        now.refuse === 'rate_limited' && now.retryAfterS !== undefined ? { 'retry-after': String(now.retryAfterS) } : {}
      return fail(res, REFUSALS[now.refuse].status, REFUSALS[now.refuse].message, headers)
    }
    const made = body === undefined ? 'the body must be JSON' : sizeOrProblem(body)
    if (typeof made === 'string') return fail(res, 400, made)

    active++
    let open = true
    res.on('close', () => {
      open = false
      active--
    })
    if (now.hang) return
    await new Promise((resolve) => setTimeout(resolve, now.delayMs ?? 0))
    if (!open) return
    const outcome = now.outcome ?? 'ready'
    if (outcome === 'request_moderated' || outcome === 'error')
      return fail(res, REFUSALS[outcome].status, REFUSALS[outcome].message)

    const id = `aiml-${++next}`
    const count: number = body.num_images ?? 1
    const { width, height, format } = made
    const base = `http://${req.headers.host}`
    const urls = Array.from({ length: count }, (_, i) => {
      const path = `/files/${id}-${i}.${format}`
      files.set(path, { width, height, format })
      return `${base}${path}`
    })
    const nsfw = Array.from({ length: count }, () => outcome === 'content_moderated')
    const data =
      shape === 'openai-b64'
        ? await Promise.all(
            urls.map(async () => ({ b64_json: (await renderImage(width, height, format)).toString('base64') })),
          )
        : urls.map((url) => ({ url }))
    const answer =
      shape === 'fal'
        ? {
            images: urls.map((url) => ({ url, width, height, content_type: `image/${format}` })),
            timings: {},
            seed: body.seed ?? 1_878_268_883,
            has_nsfw_concepts: nsfw,
            prompt: body.prompt,
          }
        : { created: Math.floor(Date.now() / 1000), data, has_nsfw_concepts: nsfw }
    if (open) sendJson(res, 201, answer)
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://emulator').pathname
    void readBody(req)
      .then(async (raw) => {
        // Result files are public CDN URLs.
        if (req.method === 'GET' && files.has(path)) {
          const file = files.get(path)!
          downloads.push(path)
          const image = await renderImage(file.width, file.height, file.format)
          return res.writeHead(200, { 'content-type': `image/${file.format}` }).end(image)
        }
        if (req.headers.authorization !== `Bearer ${options.key}`)
          return fail(res, REFUSALS.bad_key.status, REFUSALS.bad_key.message)
        if (req.method === 'GET' && path === '/v1/billing/balance')
          return sendJson(res, 200, {
            balance: 10_000_000,
            lowBalance: false,
            lowBalanceThreshold: 10_000,
            lastUpdated: new Date().toISOString(),
            autoDebitStatus: 'disabled',
            status: 'current',
            statusExplanation: 'Balance is current and up to date',
          })
        if (req.method === 'GET' && path === '/v1/models')
          return sendJson(res, 200, {
            object: 'list',
            data: ['flux-pro/v1.1', 'flux-pro/v1.1-ultra', 'flux/dev'].map((id) => ({ id, object: 'model' })),
          })
        if (req.method === 'POST' && path === '/v1/images/generations') return generate(req, res, raw)
        fail(res, 404, `Cannot ${req.method} ${path}`)
      })
      .catch(() => res.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))

  const emulator: AimlEmulator = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    key: options.key,
    script: (nextScript) => {
      script = nextScript
    },
    submits,
    cancels: [],
    active: () => active,
    shape: (nextShape) => {
      shape = nextShape
    },
    errorShape: (nextShape) => {
      errors = nextShape
    },
    downloads,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  return emulator
}
