import { randomUUID } from 'node:crypto'
import { FormData, request } from 'undici'
import WebSocket from 'ws'
import type { EngineContext, EngineImage, EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import { createSemaphore, notSentCode } from '../semaphore.js'
import { fillGraph, type ComfyGraph, type ComfyWorkflows } from './workflows.js'

export interface ComfyUiEngineOptions {
  /** ComfyUI's address, e.g. http://127.0.0.1:8188. */
  url: string
  workflows: ComfyWorkflows
  /** Prompts this process keeps in ComfyUI's queue at once (running + waiting). */
  maxQueued: number
  /** How often /history is read while the websocket is down (and, 5× slower, while it is up). */
  pollMs?: number
  /** Gives up on a prompt that has not finished after this long. */
  taskTimeoutMs?: number
  requestTimeoutMs?: number
}

interface HistoryEntry {
  outputs?: Record<string, { images?: { filename: string; subfolder: string; type: string }[] }>
  status?: { status_str?: string; completed?: boolean; messages?: [string, Record<string, unknown>][] }
}

/** What the websocket has said about one prompt. */
interface PromptState {
  progress?: { value: number; max: number }
  finished: boolean
  error?: Record<string, unknown>
  interrupted: boolean
}

/**
 * One websocket per task (`/ws?clientId=…`): ComfyUI sends a prompt's events to the client id
 * that queued it. The socket reconnects with the same client id when it drops; while it is
 * down, the engine reads /history instead, so a lost socket slows a job, never loses it.
 */
function openEvents(wsUrl: string, onChange: () => void) {
  const prompts = new Map<string, PromptState>()
  let socket: WebSocket | undefined
  let connected = false
  let closed = false
  let retry: NodeJS.Timeout | undefined
  let backoff = 250
  /** Counts opens: after a reconnect, events sent while the socket was down are lost. */
  let opens = 0
  let opened!: () => void
  const firstOpen = new Promise<void>((resolve) => (opened = resolve))

  const state = (id: string): PromptState => {
    let s = prompts.get(id)
    if (!s) prompts.set(id, (s = { finished: false, interrupted: false }))
    return s
  }
  const connect = () => {
    // No Origin header: ComfyUI answers 403 when a browser-like Origin does not match its host.
    const ws = new WebSocket(wsUrl, { handshakeTimeout: 5_000 })
    socket = ws
    ws.on('open', () => {
      connected = true
      opens++
      backoff = 250
      opened()
      onChange()
    })
    ws.on('message', (data, isBinary) => {
      if (isBinary) return // preview images
      let message: { type?: string; data?: Record<string, unknown> }
      try {
        message = JSON.parse(data.toString())
      } catch {
        return
      }
      const id = message.data?.prompt_id
      if (typeof id !== 'string') return
      const s = state(id)
      switch (message.type) {
        case 'progress':
          s.progress = { value: Number(message.data!.value), max: Number(message.data!.max) }
          break
        case 'executing':
          if (message.data!.node === null) s.finished = true
          break
        case 'execution_error':
          s.error = message.data
          break
        case 'execution_interrupted':
          s.interrupted = true
          break
        default:
          return
      }
      onChange()
    })
    ws.on('error', () => undefined) // 'close' follows
    ws.on('close', () => {
      connected = false
      opened() // the first attempt failed: the caller goes on with /history
      if (closed) return
      onChange()
      retry = setTimeout(connect, backoff)
      backoff = Math.min(2_000, backoff * 2)
    })
  }
  connect()
  return {
    /** Resolves when the socket is open, or the first attempt failed (then polling covers). */
    ready: () => Promise.race([firstOpen, new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref())]),
    connected: () => connected,
    opens: () => opens,
    state,
    close() {
      closed = true
      clearTimeout(retry)
      socket?.terminate()
    },
  }
}

/**
 * A local ComfyUI: the operator's FLUX.1 workflow (built-in schnell/dev or their own template)
 * is filled in per task and queued with `POST /prompt`; progress comes over the websocket;
 * images are read from /history and /view. Cancel deletes a waiting prompt from ComfyUI's
 * queue, or interrupts it when it is the one running.
 */
export function createComfyUiEngine(options: ComfyUiEngineOptions): ImageEngine & { queued(): number } {
  const base = options.url.replace(/\/+$/, '')
  const wsUrl = `${base.replace(/^http/, 'ws')}/ws`
  const slots = createSemaphore(options.maxQueued, 'ComfyUI')
  const pollMs = options.pollMs ?? 1_000
  const taskTimeout = options.taskTimeoutMs ?? 30 * 60_000
  const requestTimeout = options.requestTimeoutMs ?? 30_000
  const { workflows } = options

  const call = async (method: 'GET' | 'POST', path: string, signal: AbortSignal, body?: unknown) => {
    try {
      const response = await request(`${base}${path}`, {
        method,
        signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeout)]),
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: response.statusCode, text: await response.body.text() }
    } catch (error) {
      throw transportError(error, signal, path)
    }
  }
  const transportError = (error: unknown, signal: AbortSignal, path: string): EngineError => {
    if (signal.aborted) return new EngineError('canceled', 'generation was aborted', { cause: error })
    const code = notSentCode(error)
    if (code) return new EngineError('unavailable', `ComfyUI could not be reached at ${base} (${code})`, { cause: error })
    return new EngineError('unavailable', `ComfyUI did not answer ${path}: ${(error as Error).message}`, { cause: error })
  }

  const upload = async (data: Buffer, name: string, signal: AbortSignal): Promise<string> => {
    const form = new FormData()
    form.append('image', new Blob([data]), name)
    form.append('type', 'input')
    form.append('overwrite', 'true')
    let response
    try {
      response = await request(`${base}/upload/image`, { method: 'POST', body: form, signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeout)]) })
    } catch (error) {
      throw transportError(error, signal, '/upload/image')
    }
    const text = await response.body.text()
    if (response.statusCode !== 200) throw new EngineError('failed', `ComfyUI refused the image prompt upload (${response.statusCode}): ${text.slice(0, 200)}`)
    const json = JSON.parse(text) as { name: string; subfolder?: string }
    return json.subfolder ? `${json.subfolder}/${json.name}` : json.name
  }

  const queuePrompt = async (graph: ComfyGraph, clientId: string, signal: AbortSignal): Promise<string> => {
    const { status, text } = await call('POST', '/prompt', signal, { prompt: graph, client_id: clientId })
    let json: { prompt_id?: string; error?: { type?: string; message?: string; details?: string } | string; node_errors?: Record<string, { class_type?: string; errors?: { message?: string; details?: string }[] }> }
    try {
      json = JSON.parse(text)
    } catch {
      json = {}
    }
    if (status === 200 && json.prompt_id) return json.prompt_id
    if (status >= 500) throw new EngineError('unavailable', `ComfyUI answered ${status} to /prompt`)
    if (status === 403) throw new EngineError('unavailable', 'ComfyUI refused the request (403): check its --listen and origin settings')
    throw new EngineError('failed', `ComfyUI rejected the workflow '${workflows.name}': ${describeRejection(json)}`)
  }

  const history = async (promptId: string, signal: AbortSignal): Promise<HistoryEntry | undefined> => {
    const { status, text } = await call('GET', `/history/${encodeURIComponent(promptId)}`, signal)
    if (status !== 200) throw new EngineError('unavailable', `ComfyUI answered ${status} to /history`)
    return (JSON.parse(text) as Record<string, HistoryEntry>)[promptId]
  }

  /** Takes the prompt out of ComfyUI's queue, or interrupts it if it is running. Best effort. */
  const cancelUpstream = async (promptId: string): Promise<void> => {
    const signal = AbortSignal.timeout(5_000)
    try {
      await call('POST', '/queue', signal, { delete: [promptId] })
      const queue = JSON.parse((await call('GET', '/queue', signal)).text) as { queue_running?: unknown[][] }
      // Only when ours is the one running: /interrupt without a prompt id stops anyone's.
      if (queue.queue_running?.some((item) => item[1] === promptId)) await call('POST', '/interrupt', signal, { prompt_id: promptId })
    } catch {
      // ComfyUI gone or slow: nothing more to do; the job is canceled on our side regardless.
    }
  }

  /** Waits for the prompt to end, from websocket events, or /history when they do not come. */
  const waitFor = async (promptId: string, events: ReturnType<typeof openEvents>, ctx: EngineContext, wake: { notify?: () => void }): Promise<HistoryEntry> => {
    const started = Date.now()
    let lastProgress = -1
    let timedOut = false
    let opens = events.opens()
    for (;;) {
      throwIfAborted(ctx.signal)
      const s = events.state(promptId)
      if (s.progress && s.progress.max > 0) {
        const fraction = Math.min(1, s.progress.value / s.progress.max)
        if (fraction !== lastProgress) ctx.progress(0.05 + 0.9 * (lastProgress = fraction))
      }
      if (s.error) throw new EngineError('failed', describeExecutionError(s.error))
      if (s.interrupted) throw new EngineError('failed', 'ComfyUI interrupted the prompt (it was stopped on the ComfyUI side)')
      // /history is read when the socket says the prompt ended, after it reconnects (events
      // sent meanwhile are lost), and on every quiet wait: often while the socket is down,
      // rarely while it is up.
      const reconnected = events.opens() !== opens
      opens = events.opens()
      if (s.finished || timedOut || reconnected) {
        const entry = await history(promptId, ctx.signal)
        if (entry && (entry.status ? entry.status.completed || entry.status.status_str === 'error' : entry.outputs)) return entry
      }
      if (Date.now() - started > taskTimeout) {
        await cancelUpstream(promptId)
        throw new EngineError('failed', `ComfyUI had not finished the prompt after ${Math.round(taskTimeout / 1000)} s`)
      }
      timedOut = await new Promise<boolean>((resolve) => {
        const done = (byTimer: boolean) => {
          clearTimeout(timer)
          ctx.signal.removeEventListener('abort', onAbort)
          wake.notify = undefined
          resolve(byTimer)
        }
        const onAbort = () => done(false)
        const timer = setTimeout(() => done(true), events.connected() ? pollMs * 5 : pollMs)
        wake.notify = () => done(false)
        ctx.signal.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  const collect = async (entry: HistoryEntry, signal: AbortSignal): Promise<EngineImage[]> => {
    const status = entry.status
    if (status?.status_str === 'error') {
      const failure = status.messages?.find(([type]) => type === 'execution_error')?.[1]
      if (failure) throw new EngineError('failed', describeExecutionError(failure))
      if (status.messages?.some(([type]) => type === 'execution_interrupted')) throw new EngineError('failed', 'ComfyUI interrupted the prompt (it was stopped on the ComfyUI side)')
      throw new EngineError('failed', 'ComfyUI reports the prompt failed')
    }
    // SaveImage outputs (type "output"), in node order; PreviewImage's "temp" files are not results.
    const files = Object.keys(entry.outputs ?? {})
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .flatMap((node) => entry.outputs![node]!.images ?? [])
      .filter((image) => image.type === 'output')
    if (files.length === 0) throw new EngineError('failed', `ComfyUI's workflow '${workflows.name}' saved no image (it needs a SaveImage node)`)
    const images: EngineImage[] = []
    for (const file of files) {
      const query = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type })
      let response
      try {
        response = await request(`${base}/view?${query}`, { signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeout)]) })
      } catch (error) {
        throw transportError(error, signal, '/view')
      }
      const data = Buffer.from(await response.body.arrayBuffer())
      if (response.statusCode !== 200) throw new EngineError('failed', `ComfyUI could not serve ${file.filename} (${response.statusCode})`)
      images.push({ kind: 'encoded', data })
    }
    return images
  }

  return {
    name: 'comfyui',
    local: true,
    supports: () => true,
    queued: () => slots.active(),
    /** GET /system_stats: reachable, with ComfyUI's version and first device. */
    async check(signal) {
      try {
        const { status, text } = await call('GET', '/system_stats', signal)
        if (status !== 200) return { reachable: false, detail: `answered ${status}` }
        const stats = JSON.parse(text) as { system?: { comfyui_version?: string }; devices?: { name?: string }[] }
        const version = stats.system?.comfyui_version ? `ComfyUI ${stats.system.comfyui_version}` : 'ComfyUI'
        return { reachable: true, detail: `${version}${stats.devices?.[0]?.name ? ` on ${stats.devices[0].name}` : ''}, workflow ${workflows.name}` }
      } catch (error) {
        return { reachable: false, detail: `could not connect: ${(error as Error).message}` }
      }
    },
    async generate(task: EngineTask, ctx: EngineContext): Promise<EngineOutput> {
      throwIfAborted(ctx.signal)
      const template = task.imagePrompt ? workflows.img2img : workflows.txt2img
      if (!template) throw new EngineError('invalid', `ComfyUI's workflow '${workflows.name}' takes no image prompt (set FLUXHOST_COMFYUI_IMG2IMG_WORKFLOW)`)
      await slots.acquire(ctx.signal)
      const wake: { notify?: () => void } = {}
      const clientId = `fluxhost-${randomUUID()}`
      const events = openEvents(`${wsUrl}?clientId=${clientId}`, () => wake.notify?.())
      let promptId: string | undefined
      try {
        const image = task.imagePrompt ? await upload(task.imagePrompt.data, `fluxhost-${task.jobId}.png`, ctx.signal) : ''
        const graph = fillGraph(template, {
          prompt: task.prompt,
          seed: task.seed,
          width: task.width,
          height: task.height,
          steps: task.steps ?? workflows.defaults.steps,
          guidance: task.guidance ?? workflows.defaults.guidance,
          batch_size: task.numImages,
          image,
          // How far the sampler may move from the image prompt: strength 1 keeps it.
          denoise: task.imagePrompt ? Math.round((1 - task.imagePrompt.strength) * 1000) / 1000 : 1,
          filename_prefix: `fluxhost/${task.jobId}`,
        })
        await events.ready()
        promptId = await queuePrompt(graph, clientId, ctx.signal)
        ctx.progress(0.02)
        const entry = await waitFor(promptId, events, ctx, wake)
        const images = await collect(entry, ctx.signal)
        ctx.progress(1)
        return { images }
      } catch (error) {
        if (promptId && ctx.signal.aborted) await cancelUpstream(promptId)
        throw error
      } finally {
        events.close()
        slots.release()
      }
    },
  }
}

function describeRejection(json: { error?: { type?: string; message?: string; details?: string } | string; node_errors?: Record<string, { class_type?: string; errors?: { message?: string; details?: string }[] }> }): string {
  const parts: string[] = []
  const error = typeof json.error === 'string' ? { message: json.error } : json.error
  if (error?.message) parts.push(`${error.message}${error.details ? ` (${error.details})` : ''}`)
  for (const [node, info] of Object.entries(json.node_errors ?? {})) {
    const messages = (info.errors ?? []).map((e) => `${e.message ?? 'error'}${e.details ? `: ${e.details}` : ''}`)
    parts.push(`node ${node}${info.class_type ? ` (${info.class_type})` : ''}: ${messages.join('; ')}`)
  }
  return (parts.join('; ') || 'no reason given').slice(0, 800)
}

function describeExecutionError(data: Record<string, unknown>): string {
  const node = data.node_id ? ` in node ${String(data.node_id)}${data.node_type ? ` (${String(data.node_type)})` : ''}` : ''
  const message = String(data.exception_message ?? 'unknown error').trim().slice(0, 500)
  return `ComfyUI failed${node}: ${data.exception_type ? `${String(data.exception_type)}: ` : ''}${message}`
}
