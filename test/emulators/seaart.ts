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

/** The API's path prefix: SeaArt's base URL is https://cloud.seaart.ai/model. */
const PREFIX = '/model'
const QUEUE = '/v1/queue/flux_pro_11'

interface Task {
  id: string
  body: any
  script: ProviderScript
  submittedAt: number
  reads: number
  errorsLeft: number
  done: boolean
  canceled: boolean
}

export interface SeaartEmulatorOptions {
  key: string
  script?: ProviderScript
  /**
   * The finished response's shape: `outputs` (the multimodal result page: `outputs:[{type, url,
   * content_type, file_name, width, height}]`, the default) or `output` (seed 000:
   * `output:[{content:[{type, url}]}]`). The documents disagree; the engine must read both.
   */
  resultShape?: 'outputs' | 'output'
  /** `usage.cost` (USD, a string as in seed 000) on finished responses; absent by default. */
  costUsd?: string
}

export interface SeaartEmulator extends ProviderEmulator {
  /** Every status and response read that reached a request: its path and the HTTP status answered. */
  reads: { path: string; status: number }[]
}

const gatewayError = (code: string, message: string) => ({
  error: { code, message },
  request_id: randomBytes(8).toString('hex'),
})

/** How each scripted failure reads in a COMPLETED body (SeaArt documents no moderation codes: assumed). */
const FAILURES = {
  error: { error: 'Runtime execution failed', error_type: 'INFERENCE_FAILURE' },
  request_moderated: { error: 'The prompt was flagged by content moderation', error_type: 'INPUT_MODERATION' },
  content_moderated: {
    error: 'The generated image was flagged by content moderation',
    error_type: 'OUTPUT_MODERATION',
  },
} as const

/**
 * SeaArt's model queue API (reference/providers.md §5a, seeds 000 and 001) under `/model`:
 * POST /v1/queue/flux_pro_11 with `Authorization: Bearer …` (or `Key …`) → `{request_id:
 * "mmsu_…", response_url, status_url, cancel_url, queue_position: 0}`; `…/status` answers
 * IN_QUEUE, IN_PROGRESS or COMPLETED, and COMPLETED also ends failures (`error`, `error_type`);
 * `…/response` (SeaArt's suffix) answers 202 with the status until the end, then the outputs;
 * `PUT …/cancel`. Gateway errors are `{error:{code, message}, request_id}`, app errors
 * `{detail}`. Result files are served by this server without auth.
 */
export async function startSeaartEmulator(options: SeaartEmulatorOptions): Promise<SeaartEmulator> {
  const tasks = new Map<string, Task>()
  const submits: SeaartEmulator['submits'] = []
  const cancels: string[] = []
  const reads: SeaartEmulator['reads'] = []
  let current: ProviderScript = options.script ?? {}
  const authorized = (req: http.IncomingMessage) =>
    req.headers.authorization === `Bearer ${options.key}` || req.headers.authorization === `Key ${options.key}`
  const unauthorized = (res: http.ServerResponse) =>
    sendJson(res, 401, gatewayError('UNAUTHORIZED', 'Invalid API key: use Authorization: Bearer <key> or Key <key>'))

  const urlsOf = (base: string, id: string) => {
    const root = `${base}${PREFIX}${QUEUE}/requests/${id}`
    return { response_url: `${root}/response`, status_url: `${root}/status`, cancel_url: `${root}/cancel` }
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
    if (!authorized(req)) return unauthorized(res)
    switch (script.refuse) {
      case 'bad_key':
        return unauthorized(res)
      case 'no_credit':
        return sendJson(res, 402, gatewayError('INSUFFICIENT_BALANCE', 'Insufficient account balance'))
      case 'rate_limited':
        return sendJson(
          res,
          429,
          gatewayError('RATE_LIMIT_EXCEEDED', 'Rate limit exceeded'),
          script.retryAfterS === undefined ? {} : { 'retry-after': String(script.retryAfterS) },
        )
      case 'invalid':
        return sendJson(res, 422, {
          detail: [{ loc: ['body', 'width'], msg: 'Input should be a multiple of 32', type: 'multiple_of' }],
        })
      case 'server_error':
        return sendJson(res, 500, { detail: 'Runtime execution failed' })
    }
    const id = `mmsu_${randomBytes(12).toString('hex')}`
    const task: Task = {
      id,
      body,
      script,
      submittedAt: Date.now(),
      reads: 0,
      errorsLeft: script.pollErrors ?? 0,
      done: false,
      canceled: false,
    }
    tasks.set(id, task)
    sendJson(res, 200, { request_id: id, ...urlsOf(base, id), queue_position: 0 })
  }

  /** The status body now; a status read (`advance`) also moves the task along its script. */
  const statusBody = (task: Task, advance: boolean): Record<string, unknown> => {
    const pending = task.script.pendingPolls ?? 2
    const early = Date.now() - task.submittedAt < (task.script.delayMs ?? 0)
    const running = !task.canceled && !task.done && (task.script.hang || task.reads < pending || early)
    if (running) {
      if (advance) task.reads++
      const queued = task.reads <= Math.ceil(pending / 2)
      return queued
        ? { request_id: task.id, status: 'IN_QUEUE', queue_position: 0 }
        : { request_id: task.id, status: 'IN_PROGRESS' }
    }
    if (advance) task.done = true
    if (!task.done) return { request_id: task.id, status: 'IN_PROGRESS' }
    if (task.canceled) return { request_id: task.id, status: 'COMPLETED', error: 'Request was cancelled' }
    const outcome = task.script.outcome ?? 'ready'
    if (outcome !== 'ready') return { request_id: task.id, status: 'COMPLETED', ...FAILURES[outcome] }
    return { request_id: task.id, status: 'COMPLETED', metrics: { inference_time: 1.5 } }
  }

  const status = (res: http.ServerResponse, path: string, task: Task) => {
    if (task.errorsLeft > 0) {
      task.errorsLeft--
      reads.push({ path, status: 503 })
      return sendJson(res, 503, gatewayError('SERVICE_UNAVAILABLE', 'Service temporarily unavailable'))
    }
    reads.push({ path, status: 200 })
    sendJson(res, 200, statusBody(task, true))
  }

  const response = (res: http.ServerResponse, path: string, task: Task, base: string) => {
    const body = statusBody(task, false)
    if (!task.done) {
      reads.push({ path, status: 202 })
      return sendJson(res, 202, body)
    }
    reads.push({ path, status: 200 })
    if (body.error) return sendJson(res, 200, body)
    const format = task.body.output_format === 'png' ? 'png' : 'jpeg'
    const [width, height] = [task.body.width ?? 1024, task.body.height ?? 768]
    const url = `${base}${PREFIX}/files/${task.id}.${format}`
    const outputs =
      options.resultShape === 'output'
        ? { output: [{ content: [{ type: 'image', url }] }] }
        : {
            outputs: [
              { type: 'image', url, content_type: `image/${format}`, file_name: `${task.id}.${format}`, width, height },
            ],
          }
    sendJson(res, 200, {
      request_id: task.id,
      status: 'COMPLETED',
      ...outputs,
      ...(options.costUsd === undefined ? {} : { usage: { cost: options.costUsd, discount: 0 } }),
      metadata: { prompt: task.body.prompt },
    })
  }

  const cancel = (res: http.ServerResponse, task: Task) => {
    if (task.done) return sendJson(res, 400, { detail: 'Request already completed' })
    if (!task.canceled) cancels.push(task.id)
    task.canceled = true
    sendJson(res, 200, { request_id: task.id, status: 'CANCELLED' })
  }

  const file = async (res: http.ServerResponse, path: string) => {
    const [, id, format] = /^\/files\/([^/.]+)\.(png|jpeg)$/.exec(path) ?? []
    const task = tasks.get(id ?? '')
    if (!task || (format !== 'png' && format !== 'jpeg')) return sendJson(res, 404, { detail: 'Not Found' })
    const data = await renderImage(task.body.width ?? 1024, task.body.height ?? 768, format)
    res.writeHead(200, { 'content-type': `image/${format}` }).end(data)
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    const base = `http://${req.headers.host}`
    const raw = await readBody(req)
    if (!url.pathname.startsWith(`${PREFIX}/`)) return sendJson(res, 404, { detail: 'Not Found' })
    const path = url.pathname.slice(PREFIX.length)
    if (req.method === 'GET' && path.startsWith('/files/')) return file(res, path)
    if (req.method === 'POST' && path === QUEUE) return submit(req, res, url.pathname, raw, base)
    if (!authorized(req)) return unauthorized(res)
    if (req.method === 'POST' && path.startsWith('/v1/queue/'))
      return sendJson(res, 404, { detail: `App not found: ${path.slice('/v1/queue/'.length)}` })
    const [, id, action] = /^\/v1\/queue\/flux_pro_11\/requests\/([^/]+)\/(status|response|cancel)$/.exec(path) ?? []
    const task = tasks.get(id ?? '')
    if (!task) return sendJson(res, 404, { detail: 'Request not found' })
    if (req.method === 'GET' && action === 'status') return status(res, url.pathname, task)
    if (req.method === 'GET' && action === 'response') return response(res, url.pathname, task, base)
    if (req.method === 'PUT' && action === 'cancel') return cancel(res, task)
    sendJson(res, 405, { detail: 'Method Not Allowed' })
  }
  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { detail: `emulator: ${(error as Error).message}` })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${PREFIX}`,
    key: options.key,
    script: (next) => {
      current = next
    },
    submits,
    cancels,
    reads,
    active: () => [...tasks.values()].filter((task) => !task.done && !task.canceled).length,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
