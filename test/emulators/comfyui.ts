import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import { type WebSocket, WebSocketServer } from 'ws'
import { createChanges } from './changes.js'

/** What the emulator does with one prompt (decided by the test, from the graph). */
export interface ComfyScript {
  /** Sampling steps reported (default: the graph's KSampler steps). */
  steps?: number
  /** Time per step (default: the emulator's). */
  stepMs?: number
  /** Fail in the sampler with this exception message (an execution_error). */
  error?: string
  /** Close every websocket after this step, once (a socket that drops mid-job). */
  dropSocketsAfterStep?: number
}

interface Prompt {
  id: string
  number: number
  graph: Record<string, { class_type: string; inputs: Record<string, any> }>
  clientId: string | undefined
  script: ComfyScript
  interrupted: boolean
  wake?: () => void
  /** Epoch ms: accepted by POST /prompt, started executing, history written. */
  receivedAt: number
  startedAt?: number
  endedAt?: number
}

type HistoryEntry = {
  prompt: unknown[]
  outputs: Record<string, { images: { filename: string; subfolder: string; type: string }[] }>
  status: { status_str: string; completed: boolean; messages: [string, unknown][] }
  meta: object
}

/** Node classes the emulator knows (enough for FLUX.1 workflows), with their required inputs. */
const NODES: Record<string, string[]> = {
  UNETLoader: ['unet_name', 'weight_dtype'],
  DualCLIPLoader: ['clip_name1', 'clip_name2', 'type'],
  VAELoader: ['vae_name'],
  CLIPTextEncode: ['clip', 'text'],
  EmptySD3LatentImage: ['width', 'height', 'batch_size'],
  FluxGuidance: ['conditioning', 'guidance'],
  KSampler: [
    'model',
    'positive',
    'negative',
    'latent_image',
    'seed',
    'steps',
    'cfg',
    'sampler_name',
    'scheduler',
    'denoise',
  ],
  VAEDecode: ['samples', 'vae'],
  VAEEncode: ['pixels', 'vae'],
  SaveImage: ['images', 'filename_prefix'],
  PreviewImage: ['images'],
  LoadImage: ['image'],
  ImageScale: ['image', 'upscale_method', 'width', 'height', 'crop'],
  RepeatLatentBatch: ['samples', 'amount'],
}

/**
 * ComfyUI's HTTP and websocket API as its server.py and docs describe it
 * (reference/local-flux.md §4.2, api-anchors.md §5): `POST /prompt` validates the API-format
 * graph (400 with `node_errors`), queues it, runs one prompt at a time and reports over
 * `/ws?clientId=` to the client that queued it; `/history/{id}`, `/view`, `/queue` (view,
 * delete), `/interrupt`, `/upload/image`, `/system_stats`; every route also under `/api`.
 * Requests whose Origin does not match the Host get 403, as ComfyUI's origin middleware does.
 */
export async function startComfyEmulator(
  options: { models?: string[]; stepMs?: number; script?: (graph: Prompt['graph'], n: number) => ComfyScript } = {},
) {
  const models = options.models ?? ['flux1-schnell.safetensors', 'flux1-dev.safetensors']
  const sockets = new Map<string, WebSocket>()
  const pending: Prompt[] = []
  /** Every accepted prompt, in order, with its timings. */
  const prompts: Prompt[] = []
  let running: Prompt | undefined
  const history = new Map<string, HistoryEntry>()
  const files = new Map<string, Buffer>()
  const uploads = new Map<string, Buffer>()
  const received: { graph: Prompt['graph']; clientId: string | undefined; headers: http.IncomingHttpHeaders }[] = []
  const interrupts: (string | null)[] = []
  const deletes: string[] = []
  const originRefusals: string[] = []
  let number = 0
  let maxInQueue = 0
  let counter = 0
  let connections = 0
  const { changed, until } = createChanges('ComfyUI')

  const send = (clientId: string | undefined, type: string, data: Record<string, unknown>) => {
    const ws = clientId ? sockets.get(clientId) : undefined
    if (ws && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type, data }))
  }
  let drops = 0
  const dropSockets = () => {
    drops++
    for (const ws of sockets.values()) ws.terminate()
    sockets.clear()
  }
  const json = (res: http.ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))

  const validate = (graph: Prompt['graph']) => {
    for (const [id, node] of Object.entries(graph)) {
      if (!NODES[node.class_type])
        return {
          status: 400,
          body: {
            error: {
              type: 'invalid_prompt',
              message: `Cannot execute because node ${node.class_type} does not exist.`,
              details: `Node ID '#${id}'`,
              extra_info: {},
            },
            node_errors: {},
          },
        }
    }
    if (!Object.values(graph).some((n) => n.class_type === 'SaveImage' || n.class_type === 'PreviewImage')) {
      return {
        status: 400,
        body: {
          error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} },
          node_errors: [],
        },
      }
    }
    const nodeErrors: Record<string, unknown> = {}
    for (const [id, node] of Object.entries(graph)) {
      const errors: unknown[] = []
      for (const input of NODES[node.class_type]!) {
        if (!(input in node.inputs))
          errors.push({
            type: 'required_input_missing',
            message: 'Required input is missing',
            details: input,
            extra_info: { input_name: input },
          })
      }
      if (node.class_type === 'UNETLoader' && !models.includes(node.inputs.unet_name)) {
        errors.push({
          type: 'value_not_in_list',
          message: 'Value not in list',
          details: `unet_name: '${node.inputs.unet_name}' not in ${JSON.stringify(models)}`,
          extra_info: { input_name: 'unet_name' },
        })
      }
      if (node.class_type === 'LoadImage' && !uploads.has(node.inputs.image)) {
        errors.push({
          type: 'custom_validation_failed',
          message: 'Failed to validate prompt for output 9',
          details: `Invalid image file: ${node.inputs.image}`,
          extra_info: {},
        })
      }
      if (node.class_type === 'KSampler' && !(Number(node.inputs.denoise) >= 0 && Number(node.inputs.denoise) <= 1)) {
        errors.push({
          type: 'value_bigger_than_max',
          message: 'Value out of range',
          details: `denoise: ${node.inputs.denoise}`,
          extra_info: { input_name: 'denoise' },
        })
      }
      if (errors.length > 0) nodeErrors[id] = { errors, dependent_outputs: ['9'], class_type: node.class_type }
    }
    if (Object.keys(nodeErrors).length > 0)
      return {
        status: 400,
        body: {
          error: {
            type: 'prompt_outputs_failed_validation',
            message: 'Prompt outputs failed validation',
            details: '',
            extra_info: {},
          },
          node_errors: nodeErrors,
        },
      }
    return undefined
  }

  const sleep = (prompt: Prompt, ms: number) =>
    new Promise<void>((done) => {
      const timer = setTimeout(done, ms)
      prompt.wake = () => {
        clearTimeout(timer)
        done()
      }
    })

  /** ComfyUI's prompt worker: one prompt at a time, events to its client, history at the end. */
  const execute = async (prompt: Prompt) => {
    const { id, graph, clientId } = prompt
    const messages: [string, unknown][] = []
    const event = (type: string, data: Record<string, unknown>, keep = false) => {
      if (keep) messages.push([type, data])
      send(clientId, type, data)
      changed()
    }
    prompt.startedAt = Date.now()
    const finish = (status_str: string, outputs: HistoryEntry['outputs'] = {}) => {
      prompt.endedAt = Date.now()
      history.set(id, {
        prompt: [prompt.number, id, graph, { client_id: clientId }, ['9']],
        outputs,
        status: { status_str, completed: status_str === 'success', messages },
        meta: {},
      })
      send(clientId, 'executing', { node: null, prompt_id: id })
      changed()
    }
    event('execution_start', { prompt_id: id, timestamp: Date.now() }, true)
    event('execution_cached', { nodes: [], prompt_id: id, timestamp: Date.now() }, true)
    const outputs: HistoryEntry['outputs'] = {}
    for (const [nodeId, node] of Object.entries(graph)) {
      event('executing', { node: nodeId, display_node: nodeId, prompt_id: id })
      if (node.class_type === 'KSampler') {
        const steps = prompt.script.steps ?? Number(node.inputs.steps)
        for (let step = 1; step <= steps; step++) {
          await sleep(prompt, prompt.script.stepMs ?? options.stepMs ?? 5)
          if (prompt.interrupted) {
            event(
              'execution_interrupted',
              { prompt_id: id, node_id: nodeId, node_type: node.class_type, executed: [], timestamp: Date.now() },
              true,
            )
            return finish('error')
          }
          event('progress', { value: step, max: steps, prompt_id: id, node: nodeId })
          if (prompt.script.dropSocketsAfterStep === step) dropSockets()
        }
        if (prompt.script.error) {
          event(
            'execution_error',
            {
              prompt_id: id,
              node_id: nodeId,
              node_type: node.class_type,
              executed: [],
              exception_message: prompt.script.error,
              exception_type: 'RuntimeError',
              traceback: [],
              current_inputs: {},
              current_outputs: {},
              timestamp: Date.now(),
            },
            true,
          )
          return finish('error')
        }
      }
      if (node.class_type === 'SaveImage') {
        const latent = Object.values(graph).find(
          (n) => n.class_type === 'EmptySD3LatentImage' || n.class_type === 'RepeatLatentBatch',
        )!
        const scale = Object.values(graph).find((n) => n.class_type === 'ImageScale')
        const size = latent.class_type === 'EmptySD3LatentImage' ? latent.inputs : scale!.inputs
        const count = Number(latent.inputs.batch_size ?? latent.inputs.amount)
        const seed = Number(Object.values(graph).find((n) => n.class_type === 'KSampler')?.inputs.seed ?? 0)
        const images = []
        for (let i = 0; i < count; i++) {
          const stem = String(node.inputs.filename_prefix).split('/').pop()
          const filename = `${stem}_${String(++counter).padStart(5, '0')}_.png`
          const subfolder = String(node.inputs.filename_prefix).split('/').slice(0, -1).join('/')
          const background = { r: (seed * 37 + i * 50) % 256, g: (seed * 11) % 256, b: 140 }
          files.set(
            `${subfolder}/${filename}`,
            await sharp({ create: { width: Number(size.width), height: Number(size.height), channels: 3, background } })
              .png()
              .toBuffer(),
          )
          images.push({ filename, subfolder, type: 'output' })
        }
        outputs[nodeId] = { images }
        event('executed', { node: nodeId, display_node: nodeId, output: { images }, prompt_id: id })
      }
    }
    event('execution_success', { prompt_id: id, timestamp: Date.now() }, true)
    finish('success', outputs)
  }

  const pump = async () => {
    if (running) return
    while ((running = pending.shift())) {
      await execute(running)
    }
    changed()
  }

  const route = async (req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    const path = url.pathname.replace(/^\/api(?=\/)/, '')
    if (req.headers.origin && new URL(req.headers.origin).host !== req.headers.host) {
      originRefusals.push(req.headers.origin)
      return res.writeHead(403).end()
    }
    if (req.method === 'POST' && path === '/prompt') {
      const body = JSON.parse(raw.toString() || '{}')
      if (!body.prompt || typeof body.prompt !== 'object')
        return json(res, 400, {
          error: { type: 'no_prompt', message: 'No prompt provided', details: '', extra_info: {} },
          node_errors: [],
        })
      received.push({ graph: body.prompt, clientId: body.client_id, headers: req.headers })
      const invalid = validate(body.prompt)
      if (invalid) return json(res, invalid.status, invalid.body)
      const prompt: Prompt = {
        id: randomUUID(),
        number: number++,
        graph: body.prompt,
        clientId: body.client_id,
        script: options.script?.(body.prompt, received.length - 1) ?? {},
        interrupted: false,
        receivedAt: Date.now(),
      }
      prompts.push(prompt)
      pending.push(prompt)
      maxInQueue = Math.max(maxInQueue, pending.length + (running ? 1 : 0))
      void pump()
      changed()
      return json(res, 200, { prompt_id: prompt.id, number: prompt.number, node_errors: {} })
    }
    if (req.method === 'GET' && path.startsWith('/history/')) {
      const id = decodeURIComponent(path.slice('/history/'.length))
      const entry = history.get(id)
      return json(res, 200, entry ? { [id]: entry } : {})
    }
    if (req.method === 'GET' && path === '/view') {
      const file = files.get(`${url.searchParams.get('subfolder') ?? ''}/${url.searchParams.get('filename')}`)
      if (!file || url.searchParams.get('type') !== 'output') return res.writeHead(404).end()
      return res.writeHead(200, { 'content-type': 'image/png' }).end(file)
    }
    if (path === '/queue') {
      if (req.method === 'POST') {
        const body = JSON.parse(raw.toString() || '{}')
        if (body.clear) pending.splice(0)
        for (const id of body.delete ?? []) {
          deletes.push(id)
          const at = pending.findIndex((p) => p.id === id)
          if (at >= 0) pending.splice(at, 1)
        }
        changed()
        return res.writeHead(200).end()
      }
      const item = (p: Prompt) => [p.number, p.id, p.graph, { client_id: p.clientId }, ['9']]
      return json(res, 200, { queue_running: running ? [item(running)] : [], queue_pending: pending.map(item) })
    }
    if (req.method === 'POST' && path === '/interrupt') {
      const body = raw.length > 0 ? JSON.parse(raw.toString()) : {}
      interrupts.push(body.prompt_id ?? null)
      if (running && (!body.prompt_id || body.prompt_id === running.id)) {
        running.interrupted = true
        running.wake?.()
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
      if (!(image instanceof File)) return res.writeHead(400).end()
      uploads.set(image.name, Buffer.from(await image.arrayBuffer()))
      return json(res, 200, { name: image.name, subfolder: '', type: String(form.get('type') ?? 'input') })
    }
    if (req.method === 'GET' && path === '/system_stats') {
      return json(res, 200, {
        system: { os: 'posix', comfyui_version: '0.3.60', python_version: '3.12', embedded_python: false },
        devices: [
          { name: 'cuda:0 Emulated GPU', type: 'cuda', index: 0, vram_total: 25769803776, vram_free: 20000000000 },
        ],
      })
    }
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
      })
      ws.send(
        JSON.stringify({
          type: 'status',
          data: { status: { exec_info: { queue_remaining: pending.length + (running ? 1 : 0) } }, sid },
        }),
      )
    })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    prompts,
    uploads,
    interrupts,
    deletes,
    originRefusals,
    history,
    maxInQueue: () => maxInQueue,
    inQueue: () => pending.length + (running ? 1 : 0),
    running: () => running?.id,
    connections: () => connections,
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
