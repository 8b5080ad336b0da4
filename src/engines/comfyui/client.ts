import { FormData } from 'undici'
import { EngineError } from '../engine-error.js'
import { notSentCode, parseJson } from '../upstream.js'
import { createUpstreamClient, type SendOptions } from '../upstream-client.js'
import type { ComfyGraph } from './workflows.js'

export interface OutputFile {
  filename: string
  subfolder: string
  type: string
}

export interface HistoryEntry {
  outputs?: Record<string, { images?: OutputFile[] }>
  status?: { status_str?: string; completed?: boolean; messages?: [string, Record<string, unknown>][] }
}

/** A queue item as GET /queue lists it: [number, prompt_id, prompt, extra_data, outputs]. */
export type QueueItem = unknown[]

export interface ComfyClientOptions {
  /** ComfyUI's address without a trailing slash. */
  base: string
  requestTimeoutMs: number
  /** The workflow's name, for messages. */
  workflowName: string
}

/** The key in a prompt's extra_data that names the fluxhost task which queued it. */
export const TASK_MARKER = 'fluxhost_task'

/** ComfyUI's HTTP API as the engine uses it, each answer mapped to data or an EngineError. */
export function createComfyClient(options: ComfyClientOptions) {
  const { base, workflowName } = options
  const http = createUpstreamClient({ provider: 'ComfyUI', base, timeoutMs: options.requestTimeoutMs, local: true })

  /** A connection never made names the address: the operator's ComfyUI is down or elsewhere. */
  const withAddress = (error: unknown): unknown => {
    const code = error instanceof EngineError ? notSentCode(error.cause) : undefined
    return code
      ? new EngineError('unavailable', `ComfyUI could not be reached at ${base} (${code})`, { cause: error })
      : error
  }
  const send = async (method: 'GET' | 'POST', path: string, opts: SendOptions) => {
    try {
      return await http.send(method, path, opts)
    } catch (error) {
      throw withAddress(error)
    }
  }
  const call = (method: 'GET' | 'POST', path: string, signal: AbortSignal, body?: unknown) =>
    send(method, path, { signal, body })

  const upload = async (data: Buffer, name: string, signal: AbortSignal): Promise<string> => {
    const form = new FormData()
    form.append('image', new Blob([data]), name)
    // Into ComfyUI's temp folder, which it empties at every start: input/ would keep each upload
    // forever, and no endpoint deletes either. LoadImage reads it by the annotated name.
    form.append('type', 'temp')
    form.append('overwrite', 'true')
    const { status, text } = await send('POST', '/upload/image', { signal, form })
    const json = parseJson<{ name?: string; subfolder?: string; type?: string }>(text)
    if (status !== 200 || !json?.name)
      throw new EngineError('failed', `ComfyUI refused the image prompt upload (${status}): ${text.slice(0, 200)}`)
    const file = json.subfolder ? `${json.subfolder}/${json.name}` : json.name
    return json.type === 'input' ? file : `${file} [${json.type ?? 'temp'}]`
  }

  /** Queues the graph; `marker` goes into its extra_data, where GET /queue shows it. */
  const queuePrompt = async (
    graph: ComfyGraph,
    ids: { clientId: string; marker: string; jobId: string },
    signal: AbortSignal,
  ): Promise<string> => {
    const body = {
      prompt: graph,
      client_id: ids.clientId,
      extra_data: { [TASK_MARKER]: ids.marker, fluxhost_job: ids.jobId },
    }
    let answer: Awaited<ReturnType<typeof send>>
    try {
      answer = await send('POST', '/prompt', { signal, body, submit: true })
    } catch (error) {
      if (!(error instanceof EngineError) || !error.submitLost) throw error
      // The prompt may be queued there: the caller finds it by its marker and removes it, so
      // another engine (or a later try) may run the job; a duplicate costs only the GPU's time.
      const reason = (error.cause as Error | undefined)?.message ?? 'the connection broke'
      throw new EngineError(
        'unavailable',
        `ComfyUI did not answer /prompt (${reason}); the prompt it may have queued is removed`,
        { cause: error, submitLost: true },
      )
    }
    const { status, text } = answer
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
    // The graph is the operator's workflow filled in: a rejection (a model file missing, a node
    // not installed) says this ComfyUI cannot serve now — another engine of the route may.
    throw new EngineError('unavailable', `ComfyUI rejected the workflow '${workflowName}': ${describeRejection(json)}`)
  }

  /** The prompt's history entry, undefined while it is queued or running. */
  const history = async (promptId: string, signal: AbortSignal): Promise<HistoryEntry | undefined> => {
    const { status, text } = await call('GET', `/history/${encodeURIComponent(promptId)}`, signal)
    const json = parseJson<Record<string, HistoryEntry>>(text)
    if (status !== 200 || !json || typeof json !== 'object')
      throw new EngineError('unavailable', `ComfyUI answered ${status} to /history`)
    return json[promptId] ?? undefined
  }

  /** ComfyUI's queue items, running and waiting. */
  const queueItems = async (signal: AbortSignal) => {
    const { status, text } = await call('GET', '/queue', signal)
    const json = parseJson<{ queue_running?: QueueItem[]; queue_pending?: QueueItem[] }>(text)
    if (status !== 200 || !json) throw new EngineError('unavailable', `ComfyUI answered ${status} to /queue`)
    return { running: json.queue_running ?? [], pending: json.queue_pending ?? [] }
  }

  /** The bytes of one output file of a prompt (`/view`). */
  const view = async (file: OutputFile, signal: AbortSignal): Promise<Buffer> => {
    const query = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type })
    try {
      return await http.download(`${base}/view?${query}`, signal)
    } catch (error) {
      throw withAddress(error)
    }
  }

  /** Forgets finished prompts (`POST /history {delete}`): ComfyUI keeps up to 10,000 otherwise. */
  const deleteHistory = (promptIds: string[], signal: AbortSignal) =>
    call('POST', '/history', signal, { delete: promptIds })
  const deleteQueued = (promptIds: string[], signal: AbortSignal) =>
    call('POST', '/queue', signal, { delete: promptIds })
  const interrupt = (promptId: string, signal: AbortSignal) =>
    call('POST', '/interrupt', signal, { prompt_id: promptId })

  return { call, upload, queuePrompt, history, queueItems, view, deleteHistory, deleteQueued, interrupt }
}

export type ComfyClient = ReturnType<typeof createComfyClient>

/** Whether a queue item is the prompt of the task with this marker. */
export const markedWith = (marker: string) => (item: QueueItem) =>
  (item[3] as Record<string, unknown> | undefined)?.[TASK_MARKER] === marker

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
