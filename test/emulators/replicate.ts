import { randomBytes } from 'node:crypto'
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

/** The official models emulated, with each one's input fields (its model API page). */
type Rule = { oneOf?: readonly unknown[]; int?: [number, number]; num?: [number, number]; bool?: true; str?: true }
const int = (min: number, max: number): Rule => ({ int: [min, max] })
const num = (min: number, max: number): Rule => ({ num: [min, max] })
const oneOf = (...values: unknown[]): Rule => ({ oneOf: values })
const bool: Rule = { bool: true }
const str: Rule = { str: true }
const RATIOS = ['1:1', '16:9', '3:2', '2:3', '4:5', '5:4', '9:16', '3:4', '4:3']
const common = { prompt: str, seed: int(-(2 ** 53), 2 ** 53), image_prompt: str }
const MODELS: Record<string, { fields: Record<string, Rule>; format: string; megapixels: number }> = {
  'black-forest-labs/flux-1.1-pro': {
    format: 'webp',
    megapixels: 1,
    fields: {
      ...{ ...common, aspect_ratio: oneOf('custom', ...RATIOS), width: int(256, 1440), height: int(256, 1440) },
      ...{ safety_tolerance: int(1, 6), prompt_upsampling: bool, output_format: oneOf('webp', 'jpg', 'png') },
      output_quality: int(0, 100),
    },
  },
  'black-forest-labs/flux-1.1-pro-ultra': {
    format: 'jpg',
    megapixels: 4,
    fields: {
      ...{ ...common, aspect_ratio: oneOf('21:9', '9:21', ...RATIOS), raw: bool, safety_tolerance: int(1, 6) },
      ...{ output_format: oneOf('jpg', 'png'), image_prompt_strength: num(0, 1) },
    },
  },
  'black-forest-labs/flux-dev': {
    format: 'webp',
    megapixels: 1,
    fields: {
      ...{ prompt: str, seed: common.seed, aspect_ratio: oneOf('21:9', '9:21', ...RATIOS) },
      ...{ megapixels: oneOf('1', '0.25'), num_outputs: int(1, 4), num_inference_steps: int(1, 50) },
      ...{ guidance: num(0, 10), output_format: oneOf('webp', 'jpg', 'png'), output_quality: int(0, 100) },
      ...{ go_fast: bool, disable_safety_checker: bool, image: str, prompt_strength: num(0, 1) },
    },
  },
}

/** Replicate's one message for a flagged input or output [UNCONFIRMED wording; E005 is its code]. */
export const REPLICATE_FLAGGED =
  'The input or output was flagged as sensitive. Please try again with different inputs. (E005)'

export interface EmulatedPrediction {
  id: string
  model: string
  input: Record<string, any>
  script: ProviderScript
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled'
  reads: number
  createdAt: number
  output: string | string[] | null
  error: string | null
  logs: string
}

/** A field error in Replicate's 422 shape (problem+json with `invalid_fields`) [UNCONFIRMED], or undefined. */
function invalidField(model: string, input: Record<string, any>): string | undefined {
  const fields = MODELS[model]!.fields
  if (typeof input.prompt !== 'string' || input.prompt === '') return 'input.prompt: prompt is required'
  for (const [key, value] of Object.entries(input)) {
    const rule = fields[key]
    // The real API's handling of unknown fields is not documented; rejecting them here shows
    // an engine sending a field the model does not have.
    if (!rule) return `input.${key}: Additional property ${key} is not allowed`
    const ok = rule.oneOf
      ? rule.oneOf.includes(value)
      : rule.int
        ? Number.isInteger(value) && value >= rule.int[0] && value <= rule.int[1]
        : rule.num
          ? typeof value === 'number' && value >= rule.num[0] && value <= rule.num[1]
          : rule.bool
            ? typeof value === 'boolean'
            : typeof value === 'string'
    if (!ok) return `input.${key}: ${JSON.stringify(value)} is not a valid value`
  }
  if (input.aspect_ratio === 'custom' && (input.width === undefined || input.height === undefined))
    return 'input.width: width and height are required with aspect_ratio custom'
  return undefined
}

/** The size a prediction renders at: a custom size, else its aspect ratio at the model's megapixels. */
function sizeOf(prediction: EmulatedPrediction): { width: number; height: number } {
  const { input } = prediction
  if (input.aspect_ratio === 'custom') return { width: input.width, height: input.height }
  const [w, h] = String(input.aspect_ratio ?? '1:1')
    .split(':')
    .map(Number) as [number, number]
  const megapixels = input.megapixels ? Number(input.megapixels) : MODELS[prediction.model]!.megapixels
  const area = megapixels * 1024 * 1024
  const round = (value: number) => Math.max(16, Math.round(value / 16) * 16)
  return { width: round(Math.sqrt((area * w) / h)), height: round(Math.sqrt((area * h) / w)) }
}

/**
 * Replicate's predictions API as its documents and official client describe it (reference/
 * providers.md §3): `Authorization: Bearer`, create on an official model's path (201 with a
 * prediction holding `urls.get`/`urls.cancel`), `Prefer: wait[=N]`, status reads, cancel,
 * `GET /v1/account`; a succeeded flux-1.1-pro gives one URI, flux-dev a list. Output files are
 * served from this server (Replicate's are on replicate.delivery).
 */
export async function startReplicateEmulator(options: {
  key: string
  /** The longest a `Prefer: wait` holds a create (the documented 60 s; tests set less). */
  maxWaitS?: number
}): Promise<ProviderEmulator & { predictions: Map<string, EmulatedPrediction>; reads(): number }> {
  const predictions = new Map<string, EmulatedPrediction>()
  const submits: ProviderEmulator['submits'] = []
  const cancels: string[] = []
  let current: ProviderScript = {}
  let reads = 0
  let base = ''

  const problem = (res: http.ServerResponse, status: number, title: string, detail: string, extra = {}) =>
    res
      .writeHead(status, { 'content-type': 'application/problem+json' })
      .end(JSON.stringify({ title, detail, status, ...extra }))
  const view = (p: EmulatedPrediction) => ({
    id: p.id,
    model: p.model,
    version: 'hidden',
    input: p.input,
    logs: p.logs,
    output: p.output,
    data_removed: false,
    error: p.error,
    status: p.status,
    source: 'api',
    created_at: new Date(p.createdAt).toISOString(),
    urls: {
      get: `${base}/v1/predictions/${p.id}`,
      cancel: `${base}/v1/predictions/${p.id}/cancel`,
      web: `https://replicate.com/p/${p.id}`,
    },
  })
  const ended = (p: EmulatedPrediction) => ['succeeded', 'failed', 'canceled'].includes(p.status)
  const finish = (p: EmulatedPrediction) => {
    const outcome = p.script.outcome ?? 'ready'
    if (outcome === 'ready') {
      const url = `${base}/files/${p.id}/out-0.${p.input.output_format ?? MODELS[p.model]!.format}`
      p.status = 'succeeded'
      p.output = p.model.endsWith('flux-dev') ? [url] : url
    } else {
      p.status = 'failed'
      // Replicate has one error for a flagged input and a flagged output: both moderations read alike.
      p.error = outcome === 'error' ? 'Prediction failed: emulated failure' : REPLICATE_FLAGGED
    }
  }
  /** A status read moves the prediction on: starting, processing (with a progress bar), its outcome. */
  const advance = (p: EmulatedPrediction) => {
    if (ended(p)) return
    p.reads++
    const pending = p.script.pendingPolls ?? 2
    const early = Date.now() - p.createdAt < (p.script.delayMs ?? 0)
    if (p.script.hang || p.reads <= pending || early) {
      p.status = p.reads === 1 && !p.script.hang ? 'starting' : 'processing'
      const percent = Math.min(99, Math.round((100 * p.reads) / (pending + 1)))
      p.logs = `Using seed: ${p.input.seed ?? 0}\n${percent}%|${'#'.repeat(percent / 10)}| ${p.reads}/${pending + 1}\n`
      return
    }
    finish(p)
  }

  const create = async (req: http.IncomingMessage, res: http.ServerResponse, model: string) => {
    const raw = await readBody(req)
    let body: any
    try {
      body = JSON.parse(raw)
    } catch {
      body = raw
    }
    submits.push({ path: new URL(req.url ?? '/', 'http://x').pathname, body, headers: req.headers })
    const script = current
    if (script.dropSubmit) return dropConnection(req)
    if (req.headers.authorization !== `Bearer ${options.key}` || script.refuse === 'bad_key')
      return problem(res, 401, 'Unauthenticated', 'You did not pass a valid authentication token')
    if (script.refuse === 'no_credit')
      return problem(res, 402, 'Insufficient credit', 'You have insufficient credit to run this model.')
    if (script.refuse === 'rate_limited')
      return res
        .writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': String(script.retryAfterS ?? 30) })
        .end(
          JSON.stringify({
            detail: `Request was throttled. Your rate limit resets in ~${script.retryAfterS ?? 30}s.`,
            status: 429,
          }),
        )
    if (script.refuse === 'server_error') return sendJson(res, 500, { detail: 'Internal Server Error' })
    if (!MODELS[model]) return problem(res, 404, 'Not found', `Model ${model} not found`)
    const input = typeof body === 'object' && body && typeof body.input === 'object' ? body.input : undefined
    const invalid = !input ? 'input: input is required' : invalidField(model, input)
    if (invalid || script.refuse === 'invalid') {
      const detail = invalid ?? 'input.prompt: emulated rejection'
      const [field] = detail.split(':')
      return problem(res, 422, 'Input validation failed', `- ${detail}\n`, {
        invalid_fields: [{ type: 'invalid', field, description: detail }],
      })
    }
    const id = randomBytes(13).toString('hex')
    const p: EmulatedPrediction = {
      ...{ id, model, input, script, status: 'starting', reads: 0, createdAt: Date.now() },
      ...{ output: null, error: null, logs: '' },
    }
    predictions.set(id, p)
    // Prefer: wait holds the answer until the prediction ends or the wait is over. Here a
    // prediction ends by status reads, so only one scripted to end without any ends during it.
    const prefer = /^wait(?:=(\d+))?$/.exec(String(req.headers.prefer ?? '').trim())
    if (prefer) {
      const holdMs = Math.min(Number(prefer[1] ?? 60), options.maxWaitS ?? 60) * 1000
      const endsAlone = !script.hang && (script.pendingPolls ?? 2) === 0
      const ready = endsAlone && (script.delayMs ?? 0) <= holdMs
      await new Promise((resolve) => setTimeout(resolve, ready ? (script.delayMs ?? 0) : holdMs))
      if (ready && p.status === 'starting') finish(p)
      if (res.destroyed) return
    }
    sendJson(res, 201, view(p))
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    const path = url.pathname
    const file = /^\/files\/([^/]+)\/out-0\.(webp|jpg|png)$/.exec(path)
    if (req.method === 'GET' && file) {
      const p = predictions.get(file[1]!)
      if (p?.status !== 'succeeded') return sendJson(res, 404, { detail: 'Not found.' })
      const { width, height } = sizeOf(p)
      const format = file[2] === 'jpg' ? 'jpeg' : (file[2] as 'webp' | 'png')
      void renderImage(width, height, format).then((data) =>
        res.writeHead(200, { 'content-type': `image/${format}` }).end(data),
      )
      return
    }
    const created = /^\/v1\/models\/([^/]+\/[^/]+)\/predictions$/.exec(path)
    if (req.method === 'POST' && created) {
      create(req, res, created[1]!).catch(() => res.destroy())
      return
    }
    req.resume()
    if (req.headers.authorization !== `Bearer ${options.key}`)
      return problem(res, 401, 'Unauthenticated', 'You did not pass a valid authentication token')
    if (req.method === 'GET' && path === '/v1/account')
      return sendJson(res, 200, { type: 'user', username: 'fluxhost-emulator', name: 'Emulator', github_url: null })
    const read = /^\/v1\/predictions\/([^/]+)(\/cancel)?$/.exec(path)
    const p = read ? predictions.get(read[1]!) : undefined
    if (!read || !p) return problem(res, 404, 'Not found', 'Not found.')
    if (req.method === 'GET' && !read[2]) {
      reads++
      return readPrediction(p, res)
    }
    if (req.method === 'POST' && read[2]) {
      if (!ended(p)) {
        p.status = 'canceled'
        cancels.push(p.id)
      }
      return sendJson(res, 200, view(p))
    }
    problem(res, 405, 'Method not allowed', `${req.method} is not allowed here`)
  })

  const pollErrorsSeen = new Map<string, number>()
  const readPrediction = (p: EmulatedPrediction, res: http.ServerResponse) => {
    const seen = pollErrorsSeen.get(p.id) ?? 0
    if (seen < (p.script.pollErrors ?? 0)) {
      pollErrorsSeen.set(p.id, seen + 1)
      return sendJson(res, 503, { detail: 'Service Unavailable' })
    }
    advance(p)
    sendJson(res, 200, view(p))
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: base,
    key: options.key,
    script: (next) => (current = { ...next }),
    submits,
    cancels,
    active: () => [...predictions.values()].filter((p) => !ended(p)).length,
    predictions,
    reads: () => reads,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
