import { type KeyObject, randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createFalSigner, postWebhook } from './fal-push.js'
import { resultOf, sizeOf } from './fal-result.js'
import {
  dropConnection,
  type ProviderEmulator,
  type ProviderScript,
  readBody,
  renderImage,
  sendJson,
} from './provider.js'

/** The model ids fal serves FLUX under (the submit paths). */
const MODEL_IDS = ['fal-ai/flux-pro/v1.1', 'fal-ai/flux-pro/v1.1-ultra', 'fal-ai/flux/dev']

/** A ProviderScript, and whether fal calls the request's `fal_webhook` (default: it does). */
export type FalScript = ProviderScript & { skipWebhook?: boolean }

interface Task {
  id: string
  /** owner/app: the only path its status, result and cancel are known under. */
  app: string
  body: any
  script: FalScript
  /** The submit's `fal_webhook`, and whether it was called. */
  webhook: string | undefined
  called: boolean
  submittedAt: number
  reads: number
  errorsLeft: number
  done: boolean
  canceled: boolean
}

export interface FalEmulator extends ProviderEmulator {
  script(next: FalScript): void
  /** Every submit, with its query string (`?fal_webhook=…`). */
  submits: (ProviderEmulator['submits'][number] & { query: URLSearchParams })[]
  /** Every call made to a `fal_webhook`: the request, the signed body sent, and what fluxhost answered. */
  webhooks: { requestId: string; body: string; status: number }[]
  /** GETs of the JWKS. */
  jwksReads(): number
  /** Signs as fal does, with the key the JWKS publishes now (tests make their own calls with it). */
  signer: ReturnType<typeof createFalSigner>
  /** Every status read that reached a request: its path and the HTTP status answered (202 running, 200 done). */
  statusReads: { path: string; status: number }[]
  /** The queue_position of the last IN_QUEUE status answered. */
  lastQueuePosition: number | undefined
}

/**
 * fal.ai's queue API as reference/providers.md §2 describes it: POST /{model id} with
 * `Authorization: Key …` → `{status:"IN_QUEUE", request_id, status_url, response_url,
 * cancel_url, queue_position}`; status, result and cancel live under owner/app only
 * (`/fal-ai/flux-pro/requests/{id}/status`, not `/fal-ai/flux-pro/v1.1/…`); the status answers
 * 202 while IN_QUEUE/IN_PROGRESS and 200 once COMPLETED; a failed run is COMPLETED too and
 * its result is the error (422 `content_policy_violation`, or a 5xx with `error_type`). Result
 * files are served by this server, as fal's CDN would, without auth. A submit with
 * `?fal_webhook=` gets a signed POST there when the request completes (after `delayMs` on its
 * own when that is set, else when a status read sees it end), and the signing key is served
 * at `/.well-known/jwks.json` (fal's is on rest.alpha.fal.ai).
 */
export async function startFalEmulator(options: {
  key: string
  script?: FalScript
  /** The ED25519 key calls are signed with (default: one made here). */
  signingKey?: KeyObject
}): Promise<FalEmulator> {
  const tasks = new Map<string, Task>()
  const submits: FalEmulator['submits'] = []
  const webhooks: FalEmulator['webhooks'] = []
  const signer = createFalSigner(options.signingKey)
  const timers = new Set<NodeJS.Timeout>()
  let jwksReads = 0
  const cancels: string[] = []
  const statusReads: FalEmulator['statusReads'] = []
  let current: FalScript = options.script ?? {}
  let lastQueuePosition: number | undefined

  const urlsOf = (base: string, task: Task) => {
    const root = `${base}/${task.app}/requests/${task.id}`
    return { request_id: task.id, response_url: root, status_url: `${root}/status`, cancel_url: `${root}/cancel` }
  }

  const submit = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, raw: string, base: string) => {
    const path = url.pathname
    let body: any
    try {
      body = JSON.parse(raw || '{}')
    } catch {
      body = raw
    }
    submits.push({ path, body, headers: req.headers, query: url.searchParams })
    const script = current
    if (script.dropSubmit) return dropConnection(req)
    if (req.headers.authorization !== `Key ${options.key}`)
      return sendJson(res, 401, { detail: 'No user found for Key ID and Secret' })
    switch (script.refuse) {
      case 'bad_key':
        return sendJson(res, 401, { detail: 'No user found for Key ID and Secret' })
      case 'no_credit':
        return sendJson(res, 403, {
          detail: 'User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.',
        })
      case 'rate_limited':
        return sendJson(
          res,
          429,
          { detail: 'Rate limit exceeded' },
          script.retryAfterS === undefined ? {} : { 'retry-after': String(script.retryAfterS) },
        )
      case 'invalid':
        return sendJson(res, 422, {
          detail: [{ loc: ['body', 'image_size'], msg: 'Input should be a valid size', type: 'value_error' }],
        })
      case 'server_error':
        return sendJson(res, 500, { detail: 'Internal Server Error' })
    }
    const id = randomUUID()
    const task: Task = {
      id,
      app: path.split('/').slice(1, 3).join('/'),
      body,
      script,
      webhook: url.searchParams.get('fal_webhook') ?? undefined,
      called: false,
      submittedAt: Date.now(),
      reads: 0,
      errorsLeft: script.pollErrors ?? 0,
      done: false,
      canceled: false,
    }
    tasks.set(id, task)
    if (task.webhook && script.delayMs !== undefined && !script.hang) {
      // A request with a webhook ends on its own time, whether or not anyone reads its status.
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (task.done || task.canceled) return
        task.done = true
        void callWebhook(task, base)
      }, script.delayMs)
      timers.add(timer)
    }
    const gateway = task.webhook ? { gateway_request_id: id } : {}
    // HTTP code of a queue submit is not in fal's documents; the client treats any 2xx alike.
    const answer = { status: 'IN_QUEUE', ...urlsOf(base, task), ...gateway, queue_position: 0 }
    sendJson(res, 200, answer, { 'x-fal-request-id': id })
  }

  /** fal's call when a request ends: `{request_id, gateway_request_id, status, payload, error?}`, signed. */
  const callWebhook = async (task: Task, base: string) => {
    if (!task.webhook || task.called || task.script.skipWebhook) return
    task.called = true
    const outcome = resultOf(task, base)
    const ok = outcome.status >= 200 && outcome.status < 300
    const body = Buffer.from(
      JSON.stringify({
        request_id: task.id,
        gateway_request_id: task.id,
        status: ok ? 'OK' : 'ERROR',
        payload: outcome.body,
        ...(ok ? {} : { error: `Invalid status code: ${outcome.status}` }),
      }),
    )
    const status = await postWebhook(task.webhook, signer.headers(task.id, body), body)
    webhooks.push({ requestId: task.id, body: body.toString(), status })
  }

  const status = (res: http.ServerResponse, path: string, task: Task, base: string) => {
    if (task.errorsLeft > 0) {
      task.errorsLeft--
      return sendJson(res, 503, { detail: 'Service Unavailable' })
    }
    const pending = task.script.pendingPolls ?? 2
    const early = Date.now() - task.submittedAt < (task.script.delayMs ?? 0)
    const running = !task.canceled && !task.done && (task.script.hang || task.reads < pending || early)
    const urls = urlsOf(base, task)
    if (running) {
      task.reads++
      const queuedReads = Math.ceil(pending / 2)
      statusReads.push({ path, status: 202 })
      if (task.reads <= queuedReads) {
        lastQueuePosition = queuedReads - task.reads
        return sendJson(res, 202, { status: 'IN_QUEUE', ...urls, queue_position: lastQueuePosition })
      }
      return sendJson(res, 202, { status: 'IN_PROGRESS', ...urls, logs: [] })
    }
    if (!task.done) void callWebhook(task, base)
    task.done = true
    statusReads.push({ path, status: 200 })
    sendJson(res, 200, { status: 'COMPLETED', ...urls, logs: [], metrics: { inference_time: 1.5 } })
  }

  const result = (res: http.ServerResponse, task: Task, base: string) => {
    if (task.canceled) return sendJson(res, 400, { detail: 'Request was cancelled' })
    if (!task.done) return sendJson(res, 400, { detail: 'Request is still in progress' })
    const { status, body, headers } = resultOf(task, base)
    sendJson(res, status, body, headers)
  }

  const cancel = (res: http.ServerResponse, task: Task) => {
    if (task.done) return sendJson(res, 400, { status: 'ALREADY_COMPLETED' })
    if (!task.canceled) cancels.push(task.id)
    task.canceled = true
    sendJson(res, 202, { status: 'CANCELLATION_REQUESTED' })
  }

  const file = async (res: http.ServerResponse, path: string) => {
    const [, id, name] = /^\/files\/([^/]+)\/(\d+\.(?:png|jpeg))$/.exec(path) ?? []
    const task = tasks.get(id ?? '')
    if (!task || !name) return sendJson(res, 404, { detail: 'Not Found' })
    const format = name.endsWith('.png') ? 'png' : 'jpeg'
    const data = await renderImage(...sizeOf(task.body), format)
    res.writeHead(200, { 'content-type': `image/${format}` }).end(data)
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    const base = `http://${req.headers.host}`
    const path = url.pathname
    const raw = await readBody(req)
    if (req.method === 'GET' && path.startsWith('/files/')) return file(res, path)
    if (req.method === 'GET' && path === '/.well-known/jwks.json') {
      jwksReads++
      return sendJson(res, 200, signer.jwks())
    }
    if (req.method === 'POST' && MODEL_IDS.includes(path.slice(1))) return submit(req, res, url, raw, base)
    if (req.headers.authorization !== `Key ${options.key}`)
      return sendJson(res, 401, { detail: 'No user found for Key ID and Secret' })
    const [, app, id, action] = /^\/([^/]+\/[^/]+)\/requests\/([^/]+)(\/status|\/cancel)?$/.exec(path) ?? []
    const task = tasks.get(id ?? '')
    if (!task || task.app !== app) return sendJson(res, 404, { detail: 'Request not found' })
    if (req.method === 'GET' && action === '/status') return status(res, path, task, base)
    if (req.method === 'GET' && action === undefined) return result(res, task, base)
    if (req.method === 'PUT' && action === '/cancel') return cancel(res, task)
    sendJson(res, 405, { detail: 'Method Not Allowed' })
  }
  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { detail: `emulator: ${(error as Error).message}` })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    key: options.key,
    script: (next) => {
      current = next
    },
    submits,
    cancels,
    statusReads,
    webhooks,
    jwksReads: () => jwksReads,
    signer,
    get lastQueuePosition() {
      return lastQueuePosition
    },
    active: () => [...tasks.values()].filter((task) => !task.done && !task.canceled).length,
    close: () => {
      for (const timer of timers) clearTimeout(timer)
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
