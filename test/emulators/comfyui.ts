import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type WebSocket, WebSocketServer } from 'ws'
import { createChanges } from './changes.js'
import { annotated, type ComfyTestGraph, refusal, SYSTEM_STATS, validateGraph } from './comfyui-graph.js'
import {
  type ComfyScript,
  executePrompt,
  fileKey,
  type HistoryEntry,
  type Prompt,
  queueItem,
} from './comfyui-worker.js'

export type { ComfyScript }

/**
 * ComfyUI's HTTP and websocket API as its server.py and docs describe it
 * (reference/local-flux.md §4.2, api-anchors.md §5): `POST /prompt` validates the API-format
 * graph (400 with `node_errors`), queues it with its extra_data, runs one prompt at a time and
 * reports over `/ws?clientId=` to the client that queued it (one socket per client id: a new
 * one replaces the old); `/history/{id}` and `POST /history` (delete, clear), `/view` (output
 * and temp files), `/queue` (view, delete), `/interrupt`, `/upload/image` (input or temp),
 * `/system_stats`; every route also under `/api`. SaveImage writes to output/, PreviewImage to
 * temp/; no route deletes a file, as in ComfyUI. Requests whose Origin does not match the Host
 * get 403, as ComfyUI's origin middleware does.
 */
export async function startComfyEmulator(
  options: { models?: string[]; stepMs?: number; script?: (graph: ComfyTestGraph, n: number) => ComfyScript } = {},
) {
  const models = options.models ?? ['flux1-schnell.safetensors', 'flux1-dev.safetensors']
  const sockets = new Map<string, WebSocket>()
  const pending: Prompt[] = []
  /** Every accepted prompt, in order, with its timings. */
  const prompts: Prompt[] = []
  let running: Prompt | undefined
  const history = new Map<string, HistoryEntry>()
  /** Every file on the emulated disk: `input/…`, `temp/…`, `output/…`. */
  const files = new Map<string, Buffer>()
  const received: {
    graph: ComfyTestGraph
    clientId: string | undefined
    extraData: unknown
    headers: http.IncomingHttpHeaders
  }[] = []
  /** Every POST /prompt, refused or not, as the conformance suite reads submits. */
  const submits: { path: string; body: any; headers: http.IncomingHttpHeaders }[] = []
  const interrupts: (string | null)[] = []
  const deletes: string[] = []
  /** Prompts that /queue deleted while waiting, or /interrupt stopped while running. */
  const cancels: string[] = []
  /** 503s still owed to a prompt's /history reads (ComfyScript.historyErrors). */
  const blips = new Map<string, number>()
  const historyDeletes: string[] = []
  const originRefusals: string[] = []
  /** Every HTTP request, as `METHOD /path` (without /api and the query). */
  const requests: string[] = []
  let number = 0
  let maxInQueue = 0
  let counter = 0
  let connections = 0
  let drops = 0
  const { changed, until } = createChanges('ComfyUI')

  const send = (clientId: string | undefined, type: string, data: Record<string, unknown>) => {
    const ws = clientId ? sockets.get(clientId) : undefined
    if (ws && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type, data }))
  }
  const dropSockets = () => {
    drops++
    for (const ws of sockets.values()) ws.terminate()
    sockets.clear()
    changed()
  }
  const json = (res: http.ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))

  const worker = {
    stepMs: options.stepMs ?? 5,
    files,
    history,
    send,
    hasSocket: (clientId: string) => sockets.has(clientId),
    dropSockets,
    until,
    changed,
    nextFile: () => ++counter,
  }
  const pump = async () => {
    if (running) return
    while ((running = pending.shift())) await executePrompt(running, worker)
    changed()
  }

  type PromptBody = { prompt: ComfyTestGraph; client_id?: string; extra_data?: Record<string, unknown> }
  const acceptPrompt = (body: PromptBody, script: ComfyScript) => {
    const extraData = { ...body.extra_data, ...(body.client_id ? { client_id: body.client_id } : {}) }
    const prompt: Prompt = {
      id: randomUUID(),
      number: number++,
      graph: body.prompt,
      clientId: body.client_id,
      extraData,
      script,
      interrupted: false,
      receivedAt: Date.now(),
    }
    prompts.push(prompt)
    pending.push(prompt)
    if (script.historyErrors) blips.set(prompt.id, script.historyErrors)
    maxInQueue = Math.max(maxInQueue, pending.length + (running ? 1 : 0))
    void pump()
    changed()
    return prompt
  }

  const route = async (req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    const path = url.pathname.replace(/^\/api(?=\/)/, '')
    const body = () => (raw.length > 0 ? JSON.parse(raw.toString()) : {})
    requests.push(`${req.method} ${path}`)
    if (req.headers.origin && new URL(req.headers.origin).host !== req.headers.host) {
      originRefusals.push(req.headers.origin)
      return res.writeHead(403).end()
    }
    if (req.method === 'POST' && path === '/prompt') {
      const request = body()
      submits.push({ path: url.pathname, body: request, headers: req.headers })
      if (!request.prompt || typeof request.prompt !== 'object')
        return json(res, 400, {
          error: { type: 'no_prompt', message: 'No prompt provided', details: '', extra_info: {} },
          node_errors: [],
        })
      received.push({
        graph: request.prompt,
        clientId: request.client_id,
        extraData: request.extra_data,
        headers: req.headers,
      })
      const script = options.script?.(request.prompt, received.length - 1) ?? {}
      if (script.submitStatus) {
        const refused = refusal(script.submitStatus, request.prompt)
        return res.writeHead(script.submitStatus, { 'content-type': refused.type }).end(refused.body)
      }
      const invalid = validateGraph(request.prompt, models, new Set(files.keys()))
      if (invalid) return json(res, 400, invalid)
      const prompt = acceptPrompt(request, script)
      if (prompt.script.loseAnswer) return req.socket.destroy()
      return json(res, 200, { prompt_id: prompt.id, number: prompt.number, node_errors: {} })
    }
    if (req.method === 'GET' && path.startsWith('/history/')) {
      const id = decodeURIComponent(path.slice('/history/'.length))
      const owed = blips.get(id) ?? 0
      if (owed > 0) {
        blips.set(id, owed - 1)
        return json(res, 503, { error: 'emulated 503' })
      }
      const entry = history.get(id)
      return json(res, 200, entry ? { [id]: entry } : {})
    }
    if (req.method === 'POST' && path === '/history') {
      const request = body()
      if (request.clear) history.clear()
      for (const id of request.delete ?? []) {
        historyDeletes.push(id)
        history.delete(id)
      }
      changed()
      return res.writeHead(200).end()
    }
    if (req.method === 'GET' && path === '/view') {
      const q = url.searchParams
      const file = files.get(
        fileKey({ type: q.get('type') ?? 'output', subfolder: q.get('subfolder') ?? '', filename: q.get('filename')! }),
      )
      if (!file) return res.writeHead(404).end()
      return res.writeHead(200, { 'content-type': 'image/png' }).end(file)
    }
    if (path === '/queue') {
      if (req.method === 'POST') {
        const request = body()
        if (request.clear) pending.splice(0)
        for (const id of request.delete ?? []) {
          deletes.push(id)
          const at = pending.findIndex((p) => p.id === id)
          if (at >= 0) cancels.push(...pending.splice(at, 1).map((p) => p.id))
        }
        changed()
        return res.writeHead(200).end()
      }
      return json(res, 200, {
        queue_running: running ? [queueItem(running)] : [],
        queue_pending: pending.map(queueItem),
      })
    }
    if (req.method === 'POST' && path === '/interrupt') {
      const request = body()
      interrupts.push(request.prompt_id ?? null)
      if (running && (!request.prompt_id || request.prompt_id === running.id)) {
        running.interrupted = true
        running.wake?.()
        cancels.push(running.id)
      }
      changed()
      return res.writeHead(200).end()
    }
    if (req.method === 'POST' && path === '/upload/image') {
      const form = await new Request(`http://emulator${req.url}`, {
        method: 'POST',
        headers: req.headers as Record<string, string>,
        body: raw,
      }).formData()
      const image = form.get('image')
      const type = String(form.get('type') ?? 'input')
      if (!(image instanceof File) || !['input', 'temp', 'output'].includes(type)) return res.writeHead(400).end()
      files.set(annotated(image.name, type), Buffer.from(await image.arrayBuffer()))
      return json(res, 200, { name: image.name, subfolder: '', type })
    }
    if (req.method === 'GET' && path === '/system_stats') return json(res, 200, SYSTEM_STATS)
    json(res, 404, { error: 'not found' })
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      route(req, res, Buffer.concat(chunks)).catch((error: Error) => json(res, 500, { error: error.message }))
    })
  })
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    if (
      url.pathname.replace(/^\/api/, '') !== '/ws' ||
      (req.headers.origin && new URL(req.headers.origin).host !== req.headers.host)
    ) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const sid = url.searchParams.get('clientId') || randomUUID().replace(/-/g, '')
      sockets.get(sid)?.terminate()
      sockets.set(sid, ws)
      connections++
      ws.on('close', () => {
        if (sockets.get(sid) === ws) sockets.delete(sid)
        changed()
      })
      ws.send(
        JSON.stringify({
          type: 'status',
          data: { status: { exec_info: { queue_remaining: pending.length + (running ? 1 : 0) } }, sid },
        }),
      )
      changed()
    })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    submits,
    cancels,
    prompts,
    files,
    interrupts,
    deletes,
    historyDeletes,
    originRefusals,
    requests,
    history,
    /** The files under one of ComfyUI's folders: `output`, `temp` or `input`. */
    filesIn: (folder: 'input' | 'output' | 'temp') => [...files.keys()].filter((key) => key.startsWith(`${folder}/`)),
    maxInQueue: () => maxInQueue,
    inQueue: () => pending.length + (running ? 1 : 0),
    running: () => running?.id,
    /** Websocket connections accepted so far, and those open now. */
    connections: () => connections,
    openSockets: () => sockets.size,
    drops: () => drops,
    dropSockets,
    until,
    async close() {
      for (const p of [...pending, ...(running ? [running] : [])]) {
        p.interrupted = true
        p.wake?.()
      }
      pending.splice(0)
      dropSockets()
      wss.close()
      server.closeAllConnections()
      await new Promise<void>((done) => server.close(() => done()))
    },
  }
}
