import { randomUUID } from 'node:crypto'
import { ENGINE_MODELS } from '../../domain/engines.js'
import type { EngineContext, EngineImage, EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import { createSemaphore, parseJson } from '../upstream.js'
import { createComfyClient, type HistoryEntry } from './client.js'
import { openEvents } from './events.js'
import { type ComfyWorkflows, fillGraph } from './workflows.js'

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

  const { call, upload, queuePrompt, history, queueItems, ownedBy, view } = createComfyClient({
    base,
    requestTimeoutMs: requestTimeout,
    workflowName: workflows.name,
  })

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
            'ComfyUI lost the prompt: it is neither queued, running nor in its history ' +
              '(its queue was cleared, or it restarted)',
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
      images.push({ kind: 'encoded', data: await view(file, signal) })
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
        const device = stats.devices?.[0]?.name
        return {
          reachable: true,
          detail: `${version}${device ? ` on ${device}` : ''}, workflow ${workflows.name}`,
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

function describeExecutionError(data: Record<string, unknown>): string {
  const node = data.node_id
    ? ` in node ${String(data.node_id)}${data.node_type ? ` (${String(data.node_type)})` : ''}`
    : ''
  const message = String(data.exception_message ?? 'unknown error')
    .trim()
    .slice(0, 500)
  return `ComfyUI failed${node}: ${data.exception_type ? `${String(data.exception_type)}: ` : ''}${message}`
}
