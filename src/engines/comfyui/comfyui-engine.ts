import { randomUUID } from 'node:crypto'
import { FormData, request } from 'undici'
import { ENGINE_MODELS } from '../../domain/engines.js'
import type { EngineContext, EngineImage, EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import { createSemaphore, notSentCode, parseJson } from '../upstream.js'
import { openEvents } from './events.js'
import { type ComfyGraph, type ComfyWorkflows, fillGraph } from './workflows.js'

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
        headers:
          body === undefined
            ? { accept: 'application/json' }
            : { accept: 'application/json', 'content-type': 'application/json' },
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
    if (code)
      return new EngineError('unavailable', `ComfyUI could not be reached at ${base} (${code})`, { cause: error })
    return new EngineError('unavailable', `ComfyUI did not answer ${path}: ${(error as Error).message}`, {
      cause: error,
    })
  }

  const upload = async (data: Buffer, name: string, signal: AbortSignal): Promise<string> => {
    const form = new FormData()
    form.append('image', new Blob([data]), name)
    form.append('type', 'input')
    form.append('overwrite', 'true')
    let status: number
    let text: string
    try {
      const response = await request(`${base}/upload/image`, {
        method: 'POST',
        body: form,
        signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeout)]),
      })
      status = response.statusCode
      text = await response.body.text()
    } catch (error) {
      throw transportError(error, signal, '/upload/image')
    }
    const json = parseJson<{ name?: string; subfolder?: string }>(text)
    if (status !== 200 || !json?.name)
      throw new EngineError('failed', `ComfyUI refused the image prompt upload (${status}): ${text.slice(0, 200)}`)
    return json.subfolder ? `${json.subfolder}/${json.name}` : json.name
  }

  const queuePrompt = async (graph: ComfyGraph, clientId: string, signal: AbortSignal): Promise<string> => {
    const { status, text } = await call('POST', '/prompt', signal, { prompt: graph, client_id: clientId })
    const json =
      parseJson<{
        prompt_id?: string
        error?: { type?: string; message?: string; details?: string } | string
        node_errors?: Record<string, { class_type?: string; errors?: { message?: string; details?: string }[] }>
      }>(text) ?? {}
    if (status === 200 && typeof json.prompt_id === 'string') return json.prompt_id
    if (status >= 500) throw new EngineError('unavailable', `ComfyUI answered ${status} to /prompt`)
    if (status === 403)
      throw new EngineError('unavailable', 'ComfyUI refused the request (403): check its --listen and origin settings')
    if (status === 200)
      throw new EngineError('failed', `ComfyUI answered /prompt without a prompt_id: ${text.slice(0, 200)}`)
    throw new EngineError('failed', `ComfyUI rejected the workflow '${workflows.name}': ${describeRejection(json)}`)
  }

  /** The prompt's history entry, undefined while it is queued or running. */
  const history = async (promptId: string, signal: AbortSignal): Promise<HistoryEntry | undefined> => {
    const { status, text } = await call('GET', `/history/${encodeURIComponent(promptId)}`, signal)
    const json = parseJson<Record<string, HistoryEntry>>(text)
    if (status !== 200 || !json || typeof json !== 'object')
      throw new EngineError('unavailable', `ComfyUI answered ${status} to /history`)
    return json[promptId] ?? undefined
  }

  /** ComfyUI's queue items ([number, prompt_id, prompt, extra_data, outputs]), running and waiting. */
  const queueItems = async (signal: AbortSignal) => {
    const { status, text } = await call('GET', '/queue', signal)
    const json = parseJson<{ queue_running?: unknown[][]; queue_pending?: unknown[][] }>(text)
    if (status !== 200 || !json) throw new EngineError('unavailable', `ComfyUI answered ${status} to /queue`)
    return { running: json.queue_running ?? [], pending: json.queue_pending ?? [] }
  }
  const ownedBy = (clientId: string) => (item: unknown[]) =>
    (item[3] as { client_id?: unknown } | undefined)?.client_id === clientId

  /**
   * Removes whatever this task's client id has in ComfyUI's queue: waiting prompts are
   * deleted, a running one is interrupted. By client id, so it also finds a prompt whose
   * POST was never answered. Best effort.
   */
  const cancelUpstream = async (clientId: string): Promise<void> => {
    const signal = AbortSignal.timeout(5_000)
    try {
      const queue = await queueItems(signal)
      const waiting = queue.pending.filter(ownedBy(clientId)).map((item) => item[1])
      if (waiting.length > 0) await call('POST', '/queue', signal, { delete: waiting })
      // Only ours: /interrupt without a prompt id stops whatever runs. (Between this read and
      // the POST, ours could end and another start; ComfyUI versions that take a prompt_id
      // ignore the interrupt then.)
      for (const item of queue.running.filter(ownedBy(clientId)))
        await call('POST', '/interrupt', signal, { prompt_id: item[1] })
    } catch {
      // ComfyUI gone or slow: nothing more to do; the job ends on our side regardless.
    }
  }

  /** Waits for the prompt to end, from websocket events, or /history when they do not come. */
  const waitFor = async (
    promptId: string,
    events: ReturnType<typeof openEvents>,
    ctx: EngineContext,
  ): Promise<HistoryEntry> => {
    const started = Date.now()
    let lastProgress = -1
    let quiet = false
    let opens = events.opens()
    let unreachableSince: number | undefined
    for (;;) {
      throwIfAborted(ctx.signal)
      const seen = events.version()
      const s = events.state(promptId)
      if (s.progress && s.progress.max > 0) {
        const fraction = Math.min(1, s.progress.value / s.progress.max)
        if (fraction !== lastProgress) ctx.progress(0.05 + 0.9 * (lastProgress = fraction))
      }
      if (s.error) throw new EngineError('failed', describeExecutionError(s.error))
      if (s.interrupted)
        throw new EngineError('failed', 'ComfyUI interrupted the prompt (it was stopped on the ComfyUI side)')
      // /history is read when the socket says the prompt ended, after it reconnects (events
      // sent meanwhile are lost), and after every quiet wait: each second while the socket is
      // down, every five while it is up.
      const reconnected = events.opens() !== opens
      opens = events.opens()
      if (s.finished || quiet || reconnected) {
        let lost = false
        try {
          const entry = await history(promptId, ctx.signal)
          if (entry && (entry.status ? entry.status.completed || entry.status.status_str === 'error' : entry.outputs))
            return entry
          if (!entry && quiet) {
            // Nothing happened for a while: is the prompt still queued or running at all?
            const queue = await queueItems(ctx.signal)
            const listed = [...queue.running, ...queue.pending].some((item) => item[1] === promptId)
            if (!listed) {
              const last = await history(promptId, ctx.signal) // it may have ended just now
              if (last) return last
              lost = true
            }
          }
          unreachableSince = undefined
        } catch (error) {
          // GETs are safe to repeat: ComfyUI briefly unreachable delays the job; for a minute, it fails over.
          if (!(error instanceof EngineError) || error.kind !== 'unavailable') throw error
          unreachableSince ??= Date.now()
          if (Date.now() - unreachableSince > UNREACHABLE_MS)
            throw new EngineError('unavailable', `ComfyUI stopped answering while the prompt ran (${error.message})`)
        }
        if (lost)
          throw new EngineError(
            'unavailable',
            'ComfyUI lost the prompt: it is neither queued, running nor in its history (its queue was cleared, or it restarted)',
          )
      }
      if (Date.now() - started > taskTimeout)
        throw new EngineError('failed', `ComfyUI had not finished the prompt after ${Math.round(taskTimeout / 1000)} s`)
      quiet = await events.waitForChange(seen, events.connected() ? pollMs * 5 : pollMs, ctx.signal)
    }
  }

  const collect = async (entry: HistoryEntry, signal: AbortSignal): Promise<EngineImage[]> => {
    const status = entry.status
    if (status?.status_str === 'error') {
      const failure = status.messages?.find(([type]) => type === 'execution_error')?.[1]
      if (failure) throw new EngineError('failed', describeExecutionError(failure))
      if (status.messages?.some(([type]) => type === 'execution_interrupted'))
        throw new EngineError('failed', 'ComfyUI interrupted the prompt (it was stopped on the ComfyUI side)')
      throw new EngineError('failed', 'ComfyUI reports the prompt failed')
    }
    // SaveImage outputs (type "output"), in node order; PreviewImage's "temp" files are not results.
    const files = Object.keys(entry.outputs ?? {})
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .flatMap((node) => entry.outputs![node]!.images ?? [])
      .filter((image) => image.type === 'output')
    if (files.length === 0)
      throw new EngineError(
        'failed',
        `ComfyUI's workflow '${workflows.name}' saved no image (it needs a SaveImage node)`,
      )
    const images: EngineImage[] = []
    for (const file of files) {
      const query = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type })
      let status: number
      let data: Buffer
      try {
        const response = await request(`${base}/view?${query}`, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeout)]),
        })
        status = response.statusCode
        data = Buffer.from(await response.body.arrayBuffer())
      } catch (error) {
        throw transportError(error, signal, '/view')
      }
      if (status !== 200) throw new EngineError('failed', `ComfyUI could not serve ${file.filename} (${status})`)
      images.push({ kind: 'encoded', data })
    }
    return images
  }

  return {
    name: 'comfyui',
    local: true,
    supports: (model) => ENGINE_MODELS.comfyui.includes(model),
    queued: () => slots.active(),
    /** GET /system_stats: reachable, with ComfyUI's version and first device. */
    async check(signal) {
      try {
        const { status, text } = await call('GET', '/system_stats', signal)
        if (status !== 200) return { reachable: false, detail: `answered ${status}` }
        const stats = parseJson<{ system?: { comfyui_version?: string }; devices?: { name?: string }[] }>(text) ?? {}
        const version = stats.system?.comfyui_version ? `ComfyUI ${stats.system.comfyui_version}` : 'ComfyUI'
        return {
          reachable: true,
          detail: `${version}${stats.devices?.[0]?.name ? ` on ${stats.devices[0].name}` : ''}, workflow ${workflows.name}`,
        }
      } catch (error) {
        return { reachable: false, detail: `could not connect: ${(error as Error).message}` }
      }
    },
    async generate(task: EngineTask, ctx: EngineContext): Promise<EngineOutput> {
      throwIfAborted(ctx.signal)
      const template = task.imagePrompt ? workflows.img2img : workflows.txt2img
      if (!template)
        throw new EngineError(
          'invalid',
          `ComfyUI's workflow '${workflows.name}' takes no image prompt (set FLUXHOST_COMFYUI_IMG2IMG_WORKFLOW)`,
        )
      await slots.acquire(ctx.signal)
      const clientId = `fluxhost-${randomUUID()}`
      const events = openEvents(`${wsUrl}?clientId=${clientId}`)
      let submitted = false
      try {
        const image = task.imagePrompt
          ? await upload(task.imagePrompt.data, `fluxhost-${task.jobId}.png`, ctx.signal)
          : ''
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
        submitted = true
        const promptId = await queuePrompt(graph, clientId, ctx.signal)
        ctx.progress(0.02)
        const entry = await waitFor(promptId, events, ctx)
        const images = await collect(entry, ctx.signal)
        ctx.progress(1)
        return { images }
      } catch (error) {
        // Canceled, timed out, lost the socket and the HTTP API, or failed over: whatever this
        // task left in ComfyUI's queue goes, so the GPU does not make what nobody will read.
        if (submitted) await cancelUpstream(clientId)
        throw error
      } finally {
        events.close()
        slots.release()
      }
    },
  }
}

/** How long ComfyUI may stay unreachable while a prompt runs before the job fails over. */
const UNREACHABLE_MS = 60_000

function describeRejection(json: {
  error?: { type?: string; message?: string; details?: string } | string
  node_errors?: Record<string, { class_type?: string; errors?: { message?: string; details?: string }[] }>
}): string {
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
  const node = data.node_id
    ? ` in node ${String(data.node_id)}${data.node_type ? ` (${String(data.node_type)})` : ''}`
    : ''
  const message = String(data.exception_message ?? 'unknown error')
    .trim()
    .slice(0, 500)
  return `ComfyUI failed${node}: ${data.exception_type ? `${String(data.exception_type)}: ` : ''}${message}`
}
