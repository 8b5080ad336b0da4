import http from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import type { ProviderEmulator, ProviderScript } from './provider.js'

/** What the emulator does with one submit (decided by the test, from the request body). */
export interface BflScript {
  /** Answer the POST with this status instead of accepting it (402, 429, 500, …). */
  submitStatus?: number
  submitHeaders?: Record<string, string>
  /** How the task ends; default Ready. */
  outcome?: 'Ready' | 'Request Moderated' | 'Content Moderated' | 'Error'
  /** Polls answered Pending before the outcome; default 2. */
  pendingPolls?: number
  /** How long this task's sample URL stays valid (default: the emulator's). */
  sampleTtlMs?: number
  /** Ready this long after the submit (instead of after `pendingPolls` polls). */
  readyAfterMs?: number
  /** Read the submit, then drop the connection without an answer. */
  dropSubmit?: boolean
  /** Answer the first polls with 503. */
  pollErrors?: number
  /** With a webhook_url: never call it (the poll must find the result). */
  skipWebhook?: boolean
}

interface Task {
  id: string
  body: any
  polls: number
  script: BflScript
  done: boolean
  submittedAt: number
}

/**
 * Black Forest Labs' API as its documents describe it (reference/api-anchors.md §1): POST a
 * model path with `x-key` → `{id, polling_url}`; GET the polling URL → `{id, status, result,
 * progress, details, preview}` with BFL's status strings; `result.sample` is a signed URL that
 * expires (`sampleTtlMs`). Only the network edge is emulated: fluxhost talks to it over HTTP.
 */
export async function startBflEmulator(options: {
  apiKey: string
  sampleTtlMs?: number
  script?: (body: any, n: number) => BflScript
}) {
  const tasks = new Map<string, Task>()
  const submits: { path: string; body: any; headers: http.IncomingHttpHeaders; at: number }[] = []
  /** Webhook calls made: the task, the answer fluxhost gave, and when. */
  const webhooks: { id: string; status: number; at: number }[] = []
  const timers = new Set<NodeJS.Timeout>()
  let active = 0
  let maxActive = 0
  let next = 0
  const sampleTtlMs = options.sampleTtlMs ?? 600_000
  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    let raw = ''
    req.on('data', (chunk) => (raw += chunk))
    req.on('end', () => {
      if (url.pathname.startsWith('/samples/')) {
        const [, id, exp] = /^\/samples\/([^.]+)\.\w+$/.exec(url.pathname)
          ? [null, url.pathname.slice(9).split('.')[0], url.searchParams.get('exp')]
          : []
        if (!id || !tasks.has(id)) return json(res, 404, { detail: 'Not Found' })
        if (Number(exp) <= Date.now())
          return res
            .writeHead(403, { 'content-type': 'application/xml' })
            .end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>')
        const task = tasks.get(id)!
        const format = (task.body.output_format ?? 'jpeg') as 'jpeg' | 'png' | 'webp'
        void sharp({
          create: {
            width: task.body.width ?? 1024,
            height: task.body.height ?? 768,
            channels: 3,
            background: { r: 30, g: 120, b: 200 },
          },
        })
          .toFormat(format)
          .toBuffer()
          .then((data) => res.writeHead(200, { 'content-type': `image/${format}` }).end(data))
        return
      }
      if (req.headers['x-key'] !== options.apiKey)
        return json(res, 403, { detail: 'Not authenticated - Invalid Authentication' })
      if (req.method === 'GET' && url.pathname === '/v1/credits') return json(res, 200, { credits: 1234.5 })
      if (
        req.method === 'POST' &&
        ['/v1/flux-pro-1.1', '/v1/flux-pro-1.1-ultra', '/v1/flux-dev'].includes(url.pathname)
      ) {
        const body = JSON.parse(raw || '{}')
        submits.push({ path: url.pathname, body, headers: req.headers, at: Date.now() })
        const script = options.script?.(body, submits.length - 1) ?? {}
        if (script.dropSubmit) return req.socket.destroy()
        if (script.submitStatus)
          return json(res, script.submitStatus, { detail: `emulated ${script.submitStatus}` }, script.submitHeaders)
        const id = `emu-${++next}`
        tasks.set(id, { id, body, polls: 0, script, done: false, submittedAt: Date.now() })
        maxActive = Math.max(maxActive, ++active)
        const base = `http://${req.headers.host}`
        if (typeof body.webhook_url === 'string') {
          // BFL's webhook-shaped answer: no polling_url; the result comes to the webhook.
          if (script.readyAfterMs !== undefined && !script.skipWebhook) {
            const timer = setTimeout(() => {
              timers.delete(timer)
              void callWebhook(tasks.get(id)!, base)
            }, script.readyAfterMs)
            timers.add(timer)
          }
          return json(res, 200, { id, status: 'Pending', webhook_url: body.webhook_url, cost: 4 })
        }
        return json(res, 200, {
          id,
          polling_url: `${base}/v1/get_result?id=${id}`,
          cost: 4,
          input_mp: null,
          output_mp: 0.79,
        })
      }
      if (req.method === 'GET' && url.pathname === '/v1/get_result') {
        const task = tasks.get(url.searchParams.get('id') ?? '')
        if (!task)
          return json(res, 404, {
            id: url.searchParams.get('id'),
            status: 'Task not found',
            result: null,
            progress: null,
            details: null,
            preview: null,
          })
        task.polls++
        if (task.polls <= (task.script.pollErrors ?? 0)) return json(res, 503, { detail: 'emulated 503' })
        const pending = (task.script.pendingPolls ?? 2) + (task.script.pollErrors ?? 0)
        const waiting =
          task.script.readyAfterMs !== undefined
            ? Date.now() - task.submittedAt < task.script.readyAfterMs
            : task.polls <= pending
        if (waiting)
          return json(res, 200, {
            id: task.id,
            status: 'Pending',
            result: null,
            progress: Math.min(0.99, task.polls / (pending + 1)),
            details: null,
            preview: null,
          })
        if (!task.done) {
          task.done = true
          active--
        }
        const outcome = task.script.outcome ?? 'Ready'
        if (outcome !== 'Ready')
          return json(res, 200, {
            id: task.id,
            status: outcome,
            result: null,
            progress: null,
            details: { 'Moderation Reasons': ['emulated'] },
            preview: null,
          })
        const base = `http://${req.headers.host}`
        const expiry = Date.now() + (task.script.sampleTtlMs ?? sampleTtlMs)
        const sample = `${base}/samples/${task.id}.${task.body.output_format ?? 'jpeg'}?exp=${expiry}`
        return json(res, 200, {
          id: task.id,
          status: 'Ready',
          result: { sample, prompt: task.body.prompt, seed: task.body.seed },
          progress: 1,
          details: null,
          preview: null,
        })
      }
      json(res, 404, { detail: 'Not Found' })
    })
  })
  /** BFL's callback: the finished task, with the submit's webhook_secret echoed in X-Webhook-Secret. */
  const callWebhook = async (task: Task, base: string) => {
    const sample = `${base}/samples/${task.id}.${task.body.output_format ?? 'jpeg'}?exp=${Date.now() + sampleTtlMs}`
    const payload = { id: task.id, status: 'Ready', result: { sample, prompt: task.body.prompt, seed: task.body.seed } }
    try {
      const response = await fetch(task.body.webhook_url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(task.body.webhook_secret ? { 'x-webhook-secret': task.body.webhook_secret } : {}),
        },
        body: JSON.stringify(payload),
      })
      await response.arrayBuffer()
      webhooks.push({ id: task.id, status: response.status, at: Date.now() })
    } catch {
      webhooks.push({ id: task.id, status: 0, at: Date.now() })
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    webhooks,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    submits,
    maxActive: () => maxActive,
    active: () => active,
    close: () => {
      for (const timer of timers) clearTimeout(timer)
      server.closeAllConnections()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}

/** The BFL emulator driven by the conformance suite's ProviderScript (BFL has no cancel). */
export async function startBflProvider(key: string): Promise<ProviderEmulator> {
  let current: ProviderScript = {}
  const refusals = { bad_key: 403, no_credit: 402, rate_limited: 429, invalid: 422, server_error: 500 } as const
  const emulator = await startBflEmulator({
    apiKey: key,
    script: (): BflScript => {
      const s = current
      const outcomes = {
        ready: 'Ready',
        request_moderated: 'Request Moderated',
        content_moderated: 'Content Moderated',
        error: 'Error',
      } as const
      return {
        ...(s.refuse ? { submitStatus: refusals[s.refuse] } : {}),
        ...(s.retryAfterS === undefined ? {} : { submitHeaders: { 'retry-after': String(s.retryAfterS) } }),
        ...(s.dropSubmit ? { dropSubmit: true } : {}),
        outcome: outcomes[s.outcome ?? 'ready'],
        pendingPolls: s.hang ? Number.MAX_SAFE_INTEGER : (s.pendingPolls ?? 2),
        ...(s.pollErrors ? { pollErrors: s.pollErrors } : {}),
        ...(s.delayMs === undefined || s.hang ? {} : { readyAfterMs: s.delayMs }),
      }
    },
  })
  return {
    url: emulator.url,
    key,
    script: (next) => {
      current = next
    },
    submits: emulator.submits,
    cancels: [],
    active: emulator.active,
    close: async () => {
      await emulator.close()
    },
  }
}
