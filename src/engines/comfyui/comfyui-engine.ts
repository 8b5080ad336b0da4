import { randomUUID } from 'node:crypto'
import { ENGINE_MODELS } from '../../domain/engines.js'
import type { EngineContext, EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import { createSemaphore, parseJson } from '../upstream.js'
import { createComfyClient, markedWith } from './client.js'
import { createComfyEvents } from './events.js'
import { collectImages } from './outputs.js'
import { waitForPrompt } from './wait.js'
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
  /** The websocket closes after this long with no task using it (default 60 s). */
  socketIdleMs?: number
}

export interface ComfyUiEngine extends ImageEngine {
  /** Prompts of this engine in ComfyUI's queue now. */
  queued(): number
  /** Closes the websocket and sends the history deletes still owed; for shutdown. */
  close(): Promise<void>
}

/** Prompt ids whose history entries are still to be deleted, at most (the rest age out of ComfyUI's 10,000). */
const MAX_LEFTOVERS = 1_000
/** History deletes wait this long for others to go with them, or until there are FORGET_BATCH. */
const FORGET_DELAY_MS = 250
const FORGET_BATCH = 32

/**
 * A local ComfyUI: the operator's FLUX.1 workflow (built-in schnell/dev or their own template)
 * is filled in per task and queued with `POST /prompt`, marked with the task's id in its
 * extra_data; progress, the end and the output files' names come over the engine's one
 * websocket (from /history when the socket may have missed an event); the files are read with
 * /view, then the prompt's history entry is deleted. Cancel finds the task's prompt in ComfyUI's
 * queue by its marker (also one whose POST /prompt answer was lost): a waiting one is
 * deleted, the running one interrupted.
 *
 * Files: ComfyUI has no endpoint that deletes an output or temp file (its server.py has
 * /view to read them and nothing to remove them; /userdata deletes only in its user folder;
 * DELETE /api/assets/{id} drops a database reference and keeps the file). So the built-in
 * workflows save with PreviewImage into ComfyUI's temp folder, which ComfyUI empties at every
 * start and exit, and image prompts are uploaded there too. A template with SaveImage fills
 * ComfyUI's output folder until the operator clears it (or uses PreviewImage instead).
 * SaveImageWebsocket (bytes over the socket, nothing written) is not used: a socket that
 * drops while it runs would lose the images, with no history entry to recover them from.
 */
export function createComfyUiEngine(options: ComfyUiEngineOptions): ComfyUiEngine {
  const base = options.url.replace(/\/+$/, '')
  const slots = createSemaphore(options.maxQueued, 'ComfyUI')
  const pollMs = options.pollMs ?? 1_000
  const taskTimeoutMs = options.taskTimeoutMs ?? 30 * 60_000
  const { workflows } = options
  // One client id per engine, not per process: ComfyUI keeps one socket per client id, so two
  // engines (or test servers) on one ComfyUI sharing an id would take each other's events.
  const clientId = `fluxhost-${randomUUID()}`
  const events = createComfyEvents(`${base.replace(/^http/, 'ws')}/ws?clientId=${clientId}`, {
    idleMs: options.socketIdleMs,
  })
  const client = createComfyClient({
    base,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    workflowName: workflows.name,
  })

  /** Prompts we interrupted: their history entries appear later, and go with the next delete. */
  const leftovers = new Set<string>()
  /** Prompts whose files were read: their history entries go with the next delete. */
  const owed = new Set<string>()
  let sendTimer: NodeJS.Timeout | undefined
  /** History deletes under way, for close() to wait on. */
  const cleanups = new Set<Promise<void>>()
  /** Sends the deletes owed in one request: best effort, never on a job's path. */
  const sendDeletes = () => {
    clearTimeout(sendTimer)
    sendTimer = undefined
    const ids = [...owed, ...leftovers]
    owed.clear()
    leftovers.clear()
    if (ids.length === 0) return
    const sent = client.deleteHistory(ids, AbortSignal.timeout(5_000)).then(
      () => undefined,
      () => undefined, // ComfyUI gone: its history goes with it, or ages out
    )
    cleanups.add(sent)
    void sent.then(() => cleanups.delete(sent))
  }
  /**
   * Deletes history entries soon: gathered for FORGET_DELAY_MS (or FORGET_BATCH of them), so
   * the request and its answer are not handled while the job's own result is stored and sent.
   */
  const forget = (promptIds: string[]) => {
    for (const id of promptIds) owed.add(id)
    if (owed.size >= FORGET_BATCH) sendDeletes()
    else if (owed.size > 0 && !sendTimer) {
      sendTimer = setTimeout(sendDeletes, FORGET_DELAY_MS)
      sendTimer.unref() // left undone at exit: ComfyUI's history ages out (10,000 entries)
    }
  }

  /**
   * Removes whatever this task has in ComfyUI's queue, found by its marker (so also a prompt
   * whose POST was never answered): waiting prompts are deleted, a running one is
   * interrupted. Best effort.
   */
  const cancelUpstream = async (marker: string): Promise<void> => {
    const signal = AbortSignal.timeout(5_000)
    try {
      const queue = await client.queueItems(signal)
      const waiting = queue.pending.filter(markedWith(marker)).map((item) => String(item[1]))
      if (waiting.length > 0) await client.deleteQueued(waiting, signal)
      // Only ours: /interrupt without a prompt id stops whatever runs. (Between this read and
      // the POST, ours could end and another start; ComfyUI versions that take a prompt_id
      // ignore the interrupt then.)
      for (const item of queue.running.filter(markedWith(marker))) {
        await client.interrupt(String(item[1]), signal)
        if (leftovers.size < MAX_LEFTOVERS) leftovers.add(String(item[1]))
      }
    } catch {
      // ComfyUI gone or slow: nothing more to do; the job ends on our side regardless.
    }
  }

  const run = async (task: EngineTask, template: ComfyGraph, ctx: EngineContext): Promise<EngineOutput> => {
    const lease = events.lease()
    const marker = randomUUID()
    let queued = false
    let ended = false
    try {
      const image = task.imagePrompt
        ? await client.upload(task.imagePrompt.data, `fluxhost-${task.jobId}.png`, ctx.signal)
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
      // Open before the submit, so none of the prompt's events is missed (a closed one: /history covers).
      await lease.ready(ctx.signal)
      throwIfAborted(ctx.signal)
      const since = lease.connection()
      queued = true
      const promptId = await client.queuePrompt(graph, { clientId, marker, jobId: task.jobId }, ctx.signal)
      ctx.progress(0.02)
      const entry = await waitForPrompt(promptId, lease.follow(promptId), client, ctx, {
        pollMs,
        taskTimeoutMs,
        since,
        outputNodes: imageNodes(graph),
      })
      ended = true
      try {
        const images = await collectImages(entry, client, workflows.name, ctx.signal)
        ctx.progress(1)
        return { images }
      } finally {
        forget([promptId])
      }
    } catch (error) {
      // Canceled, timed out, lost the socket and the HTTP API, or failed over: whatever this
      // task left in ComfyUI's queue goes, so the GPU does not make what nobody will read.
      if (queued && !ended) await cancelUpstream(marker)
      throw error
    } finally {
      lease.done()
    }
  }

  return {
    name: 'comfyui',
    local: true,
    // A lost submit leaves at most a prompt on the operator's own GPU, which is found by its
    // marker and removed: another engine may take the job.
    duplicateHarmless: true,
    supports: (model) => ENGINE_MODELS.comfyui.includes(model),
    queued: () => slots.active(),
    /** GET /system_stats: reachable, with ComfyUI's version and first device. */
    async check(signal) {
      try {
        const { status, text } = await client.call('GET', '/system_stats', signal)
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
    async generate(task, ctx) {
      throwIfAborted(ctx.signal)
      const template = task.imagePrompt ? workflows.img2img : workflows.txt2img
      if (!template)
        throw new EngineError(
          'invalid',
          `ComfyUI's workflow '${workflows.name}' takes no image prompt (set FLUXHOST_COMFYUI_IMG2IMG_WORKFLOW)`,
        )
      await slots.acquire(ctx.signal)
      try {
        return await run(task, template, ctx)
      } finally {
        slots.release()
      }
    },
    async close() {
      events.close()
      sendDeletes()
      await Promise.all([...cleanups])
    },
  }
}

/** The graph's nodes that save images where /view reads them. */
const imageNodes = (graph: ComfyGraph) =>
  Object.keys(graph).filter((id) => ['SaveImage', 'PreviewImage'].includes(graph[id]!.class_type))
