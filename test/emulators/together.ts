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

/** The models the emulator serves (a subset of Together's catalogue). */
export const TOGETHER_MODELS = [
  'black-forest-labs/FLUX.1.1-pro',
  'black-forest-labs/FLUX.1-dev',
  'black-forest-labs/FLUX.1-schnell',
] as const

export interface TogetherEmulator extends ProviderEmulator {
  /** Answer with URLs whatever `response_format` says (Together's default is `url`). */
  answerWithUrls(on: boolean): void
  /** Result files fetched from `/files/…`, by path. */
  downloads: string[]
}

type Refusal = NonNullable<ProviderScript['refuse']>
type Outcome = Exclude<NonNullable<ProviderScript['outcome']>, 'ready'>

/** Together's error envelope (openapi.yaml ErrorData): `{error: {message, type, param, code}}`. */
const envelope = (message: string, type: string, code: string | null = null, param: string | null = null) => ({
  error: { message, type, param, code },
})

// The status codes are documented (docs/error-codes); the messages, types and codes are
// [UNCONFIRMED]: written to look like Together's, only the envelope is known.
const REFUSALS: Record<Refusal, { status: number; body: unknown }> = {
  bad_key: {
    status: 401,
    body: envelope('Invalid API key provided.', 'invalid_request_error', 'invalid_api_key'),
  },
  no_credit: {
    status: 402,
    body: envelope('Your account has reached its maximum allowed monthly spending limit.', 'payment_required'),
  },
  rate_limited: {
    status: 429,
    body: envelope('You have exceeded the rate limit for this model.', 'rate_limit_error', 'rate_limit_exceeded'),
  },
  invalid: {
    status: 400,
    body: envelope('width must be between 64 and 1792', 'invalid_request_error', null, 'width'),
  },
  server_error: { status: 500, body: envelope('Internal server error', 'server_error') },
}

// How Together says a task was moderated or failed is not documented [UNCONFIRMED]: a 400 on
// the prompt, a 422 for an image its safety checker flagged, a 500 for a failed generation.
const OUTCOMES: Record<Outcome, { status: number; body: unknown }> = {
  request_moderated: {
    status: 400,
    body: envelope('Your prompt was flagged as violating our usage policy.', 'invalid_request_error', null, 'prompt'),
  },
  content_moderated: {
    status: 422,
    body: envelope('NSFW content was detected in the generated image.', 'invalid_request_error', 'nsfw_content'),
  },
  error: { status: 500, body: envelope('Image generation failed.', 'server_error') },
}

/** What the documented request body allows (openapi.yaml `/images/generations`), or why not. */
function invalidField(body: any): { status: number; message: string; param: string } | undefined {
  if (typeof body?.model !== 'string' || !(TOGETHER_MODELS as readonly string[]).includes(body.model))
    return { status: 404, message: `Unable to access model ${String(body?.model).slice(0, 80)}.`, param: 'model' }
  if (typeof body.prompt !== 'string' || body.prompt === '')
    return { status: 400, message: 'prompt is required', param: 'prompt' }
  if (body.response_format !== undefined && !['base64', 'url'].includes(body.response_format))
    return { status: 400, message: "response_format must be 'base64' or 'url'", param: 'response_format' }
  if (body.output_format !== undefined && !['jpeg', 'png'].includes(body.output_format))
    return { status: 400, message: "output_format must be 'jpeg' or 'png'", param: 'output_format' }
  if (body.n !== undefined && !(Number.isInteger(body.n) && body.n >= 1 && body.n <= 4))
    return { status: 400, message: 'n must be between 1 and 4', param: 'n' }
  for (const side of ['width', 'height'] as const)
    if (body[side] !== undefined && !(Number.isInteger(body[side]) && body[side] > 0))
      return { status: 400, message: `${side} must be a positive integer`, param: side }
  return undefined
}

/**
 * Together AI's synchronous images API as its documents describe it (reference/providers.md §4):
 * `POST /v1/images/generations` with `Authorization: Bearer`, answered once the images are made
 * with `{id, model, object: "list", data: [{index, b64_json|url, type}]}`; `GET /v1/models`
 * (a bare array). Result URLs point at this server. Scripts: `pendingPolls` and `pollErrors`
 * are ignored (nothing is polled); `delayMs` holds the answer back; `hang` never answers, until
 * the client closes the connection or the emulator closes.
 */
export async function startTogetherEmulator(options: {
  key: string
  script?: ProviderScript
}): Promise<TogetherEmulator> {
  let script: ProviderScript = options.script ?? {}
  let urlsAlways = false
  let active = 0
  let next = 0
  const submits: ProviderEmulator['submits'] = []
  const downloads: string[] = []
  const files = new Map<string, { width: number; height: number; format: 'jpeg' | 'png' }>()

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
      const refusal = REFUSALS[now.refuse]
      const headers: Record<string, string> =
        now.refuse === 'rate_limited' && now.retryAfterS !== undefined ? { 'retry-after': String(now.retryAfterS) } : {}
      return sendJson(res, refusal.status, refusal.body, headers)
    }
    if (body === undefined) return sendJson(res, 400, envelope('Invalid JSON body', 'invalid_request_error'))
    const invalid = invalidField(body)
    if (invalid)
      return sendJson(res, invalid.status, envelope(invalid.message, 'invalid_request_error', null, invalid.param))

    // Accepted: the images are "made" while the connection stays open.
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
    if (outcome !== 'ready') return sendJson(res, OUTCOMES[outcome].status, OUTCOMES[outcome].body)

    const id = `tg-${++next}`
    const width = body.width ?? 1024
    const height = body.height ?? 1024
    const format: 'jpeg' | 'png' = body.output_format ?? 'jpeg'
    const inline = body.response_format === 'base64' && !urlsAlways
    const base = `http://${req.headers.host}`
    const data = await Promise.all(
      Array.from({ length: body.n ?? 1 }, async (_, index) => {
        if (inline)
          return { index, b64_json: (await renderImage(width, height, format)).toString('base64'), type: 'b64_json' }
        const path = `/files/${id}-${index}.${format}`
        files.set(path, { width, height, format })
        return { index, url: `${base}${path}`, type: 'url' }
      }),
    )
    if (open) sendJson(res, 200, { id, model: body.model, object: 'list', data })
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://emulator').pathname
    void readBody(req)
      .then(async (raw) => {
        // Result files are public URLs, as a CDN's are.
        if (req.method === 'GET' && files.has(path)) {
          const file = files.get(path)!
          downloads.push(path)
          const image = await renderImage(file.width, file.height, file.format)
          return res.writeHead(200, { 'content-type': `image/${file.format}` }).end(image)
        }
        if (req.headers.authorization !== `Bearer ${options.key}`) return sendJson(res, 401, REFUSALS.bad_key.body)
        if (req.method === 'GET' && path === '/v1/models')
          return sendJson(
            res,
            200,
            TOGETHER_MODELS.map((id) => ({
              id,
              object: 'model',
              created: 1_727_000_000,
              type: 'image',
              display_name: id.split('/')[1],
              organization: 'Black Forest Labs',
            })),
          )
        if (req.method === 'POST' && path === '/v1/images/generations') return generate(req, res, raw)
        sendJson(res, 404, envelope(`Unknown path ${path}`, 'invalid_request_error', 'not_found'))
      })
      .catch(() => res.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))

  const emulator: TogetherEmulator = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    key: options.key,
    script: (nextScript) => {
      script = nextScript
    },
    submits,
    cancels: [],
    active: () => active,
    answerWithUrls: (on) => {
      urlsAlways = on
    },
    downloads,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  return emulator
}
