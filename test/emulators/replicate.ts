import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { postWebhook } from './fal-push.js'
import {
  dropConnection,
  type ProviderEmulator,
  type ProviderScript,
  readBody,
  renderImage,
  sendJson,
} from './provider.js'
import { invalidField, MODELS, sizeOf } from './replicate-models.js'
import { newWebhookSecret, standardWebhookHeaders } from './replicate-push.js'

/** A ProviderScript, and whether Replicate calls the prediction's `webhook` (default: it does). */
export type ReplicateScript = ProviderScript & { skipWebhook?: boolean }

/** Replicate's one message for a flagged input or output [UNCONFIRMED wording; E005 is its code]. */
export const REPLICATE_FLAGGED =
  'The input or output was flagged as sensitive. Please try again with different inputs. (E005)'

export interface EmulatedPrediction {
  id: string
  model: string
  input: Record<string, any>
  script: ReplicateScript
  /** The create's `webhook` and `webhook_events_filter` (absent: every event). */
  webhook?: string
  webhookEvents?: string[]
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled'
  reads: number
  createdAt: number
  output: string | string[] | null
  error: string | null
  logs: string
}

export interface ReplicateEmulator extends ProviderEmulator {
  script(next: ReplicateScript): void
  predictions: Map<string, EmulatedPrediction>
  /** GETs of any prediction. */
  reads(): number
  /** Every webhook call made: the prediction, the event, the signed body, what fluxhost answered. */
  webhooks: { id: string; event: string; body: string; status: number }[]
  /** The account's signing secret now (`whsec_…`), and how often it was fetched. */
  secret(): string
  secretReads(): number
  /** A new secret, as when the account's is rotated: verifiers holding the old one must fetch again. */
  rotateSecret(): string
}

/**
 * Replicate's predictions API as its documents and official client describe it (reference/
 * providers.md §3): `Authorization: Bearer`, create on an official model's path (201 with a
 * prediction holding `urls.get`/`urls.cancel`), `Prefer: wait[=N]`, status reads, cancel,
 * `GET /v1/account`; a succeeded flux-1.1-pro gives one URI, flux-dev a list. Output files are
 * served from this server (Replicate's are on replicate.delivery). A create with a `webhook`
 * gets the prediction POSTed there, signed per Standard Webhooks with the secret served at
 * `GET /v1/webhooks/default/secret`, for the events its filter names (`start` at the create,
 * `completed` when it ends: after `delayMs` on its own when that is set, else when a read or a
 * cancel ends it; `output` and `logs` are not emulated).
 */
export async function startReplicateEmulator(options: {
  key: string
  /** The longest a `Prefer: wait` holds a create (the documented 60 s; tests set less). */
  maxWaitS?: number
}): Promise<ReplicateEmulator> {
  const predictions = new Map<string, EmulatedPrediction>()
  const submits: ProviderEmulator['submits'] = []
  const cancels: string[] = []
  const webhooks: ReplicateEmulator['webhooks'] = []
  const timers = new Set<NodeJS.Timeout>()
  let secret = newWebhookSecret()
  let secretReads = 0
  let current: ReplicateScript = {}
  let reads = 0
  let base = ''

  const problem = (res: http.ServerResponse, status: number, title: string, detail: string, extra = {}) =>
    res
      .writeHead(status, { 'content-type': 'application/problem+json' })
      .end(JSON.stringify({ title, detail, status, ...extra }))
  /** Replicate's call for one event of a prediction, signed with the account's secret now. */
  const notify = async (p: EmulatedPrediction, event: 'start' | 'completed') => {
    if (!p.webhook || p.script.skipWebhook || (p.webhookEvents && !p.webhookEvents.includes(event))) return
    const body = Buffer.from(JSON.stringify(view(p)))
    const id = `msg_${randomBytes(12).toString('hex')}`
    const status = await postWebhook(p.webhook, standardWebhookHeaders(secret, id, body), body)
    webhooks.push({ id: p.id, event, body: body.toString(), status })
  }
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
    ...(p.webhook ? { webhook: p.webhook, webhook_events_filter: p.webhookEvents ?? null } : {}),
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
    void notify(p, 'completed')
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
    if (typeof body.webhook === 'string') p.webhook = body.webhook
    if (Array.isArray(body.webhook_events_filter)) p.webhookEvents = body.webhook_events_filter.map(String)
    predictions.set(id, p)
    void notify(p, 'start')
    if (p.webhook && script.delayMs !== undefined && !script.hang) {
      // A prediction with a webhook ends on its own time, whether or not anyone reads it.
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (!ended(p)) finish(p)
      }, script.delayMs)
      timers.add(timer)
    }
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
    if (req.method === 'GET' && path === '/v1/webhooks/default/secret') {
      secretReads++
      return sendJson(res, 200, { key: secret })
    }
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
        void notify(p, 'completed')
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
    webhooks,
    secret: () => secret,
    secretReads: () => secretReads,
    rotateSecret: () => (secret = newWebhookSecret()),
    active: () => [...predictions.values()].filter((p) => !ended(p)).length,
    predictions,
    reads: () => reads,
    close: () => {
      for (const timer of timers) clearTimeout(timer)
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
