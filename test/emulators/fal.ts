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

/** The model ids fal serves FLUX under (the submit paths). */
const MODEL_IDS = ['fal-ai/flux-pro/v1.1', 'fal-ai/flux-pro/v1.1-ultra', 'fal-ai/flux/dev']

/** fal's image_size presets (fal-js endpoints.ts ImageSize enum). */
const PRESETS: Record<string, [number, number]> = {
  square_hd: [1024, 1024],
  square: [512, 512],
  portrait_4_3: [768, 1024],
  portrait_16_9: [576, 1024],
  landscape_4_3: [1024, 768],
  landscape_16_9: [1024, 576],
}

interface Task {
  id: string
  /** owner/app: the only path its status, result and cancel are known under. */
  app: string
  body: any
  script: ProviderScript
  submittedAt: number
  reads: number
  errorsLeft: number
  done: boolean
  canceled: boolean
}

export interface FalEmulator extends ProviderEmulator {
  /** Every status read that reached a request: its path and the HTTP status answered (202 running, 200 done). */
  statusReads: { path: string; status: number }[]
  /** The queue_position of the last IN_QUEUE status answered. */
  lastQueuePosition: number | undefined
}

/** The size a request renders at: image_size (object or preset), or ultra's aspect ratio at about 4 MP. */
function sizeOf(body: any): [number, number] {
  const size = body.image_size
  if (size && typeof size === 'object') return [Number(size.width), Number(size.height)]
  if (typeof size === 'string' && PRESETS[size]) return PRESETS[size]
  if (typeof body.aspect_ratio === 'string') {
    const [w, h] = body.aspect_ratio.split(':').map(Number)
    const width = Math.round(Math.sqrt((4_000_000 * w) / h) / 32) * 32
    return [width, Math.round((width * h) / w / 32) * 32]
  }
  return PRESETS.landscape_4_3!
}

/**
 * fal.ai's queue API as reference/providers.md §2 describes it: POST /{model id} with
 * `Authorization: Key …` → `{status:"IN_QUEUE", request_id, status_url, response_url,
 * cancel_url, queue_position}`; status, result and cancel live under owner/app only
 * (`/fal-ai/flux-pro/requests/{id}/status`, not `/fal-ai/flux-pro/v1.1/…`); the status answers
 * 202 while IN_QUEUE/IN_PROGRESS and 200 once COMPLETED; a failed run is COMPLETED too and
 * its result is the error (422 `content_policy_violation`, or a 5xx with `error_type`). Result
 * files are served by this server, as fal's CDN would, without auth.
 */
export async function startFalEmulator(options: { key: string; script?: ProviderScript }): Promise<FalEmulator> {
  const tasks = new Map<string, Task>()
  const submits: FalEmulator['submits'] = []
  const cancels: string[] = []
  const statusReads: FalEmulator['statusReads'] = []
  let current: ProviderScript = options.script ?? {}
  let lastQueuePosition: number | undefined

  const urlsOf = (base: string, task: Task) => {
    const root = `${base}/${task.app}/requests/${task.id}`
    return { request_id: task.id, response_url: root, status_url: `${root}/status`, cancel_url: `${root}/cancel` }
  }

  const submit = (req: http.IncomingMessage, res: http.ServerResponse, path: string, raw: string, base: string) => {
    let body: any
    try {
      body = JSON.parse(raw || '{}')
    } catch {
      body = raw
    }
    submits.push({ path, body, headers: req.headers })
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
      submittedAt: Date.now(),
      reads: 0,
      errorsLeft: script.pollErrors ?? 0,
      done: false,
      canceled: false,
    }
    tasks.set(id, task)
    // HTTP code of a queue submit is not in fal's documents; the client treats any 2xx alike.
    sendJson(res, 200, { status: 'IN_QUEUE', ...urlsOf(base, task), queue_position: 0 }, { 'x-fal-request-id': id })
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
    task.done = true
    statusReads.push({ path, status: 200 })
    sendJson(res, 200, { status: 'COMPLETED', ...urls, logs: [], metrics: { inference_time: 1.5 } })
  }

  const result = (res: http.ServerResponse, task: Task, base: string) => {
    if (task.canceled) return sendJson(res, 400, { detail: 'Request was cancelled' })
    if (!task.done) return sendJson(res, 400, { detail: 'Request is still in progress' })
    const headers = { 'x-fal-request-id': task.id }
    switch (task.script.outcome ?? 'ready') {
      case 'request_moderated':
        return sendJson(
          res,
          422,
          {
            detail: [
              {
                loc: ['body', 'prompt'],
                msg: 'The content was flagged by a content checker.',
                type: 'content_policy_violation',
                url: 'https://docs.fal.ai/errors#content_policy_violation',
                input: task.body.prompt,
              },
            ],
          },
          headers,
        )
      case 'error':
        return sendJson(
          res,
          504,
          { detail: 'Request timed out', error_type: 'request_timeout' },
          { ...headers, 'x-fal-error-type': 'request_timeout' },
        )
    }
    const [width, height] = sizeOf(task.body)
    const format = task.body.output_format === 'png' ? 'png' : 'jpeg'
    const count = Number(task.body.num_images ?? 1)
    const images = Array.from({ length: count }, (_, n) => ({
      url: `${base}/files/${task.id}/${n}.${format}`,
      width,
      height,
      content_type: `image/${format}`,
    }))
    const flagged = task.script.outcome === 'content_moderated'
    sendJson(
      res,
      200,
      {
        images,
        seed: task.body.seed,
        prompt: task.body.prompt,
        has_nsfw_concepts: images.map(() => flagged),
        timings: { inference: 1.5 },
      },
      headers,
    )
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
    if (req.method === 'POST' && MODEL_IDS.includes(path.slice(1))) return submit(req, res, path, raw, base)
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
    get lastQueuePosition() {
      return lastQueuePosition
    },
    active: () => [...tasks.values()].filter((task) => !task.done && !task.canceled).length,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
