import { FormData, request } from 'undici'
import { EngineError } from '../engine-error.js'
import { notSentCode, parseJson } from '../upstream.js'
import type { ComfyGraph } from './workflows.js'

export interface HistoryEntry {
  outputs?: Record<string, { images?: { filename: string; subfolder: string; type: string }[] }>
  status?: { status_str?: string; completed?: boolean; messages?: [string, Record<string, unknown>][] }
}

export interface ComfyClientOptions {
  /** ComfyUI's address without a trailing slash. */
  base: string
  requestTimeoutMs: number
  /** The workflow's name, for messages. */
  workflowName: string
}

/** ComfyUI's HTTP API as the engine uses it, each answer mapped to data or an EngineError. */
export function createComfyClient(options: ComfyClientOptions) {
  const { base, workflowName } = options
  const requestTimeout = options.requestTimeoutMs
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
    throw new EngineError('failed', `ComfyUI rejected the workflow '${workflowName}': ${describeRejection(json)}`)
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

  /** The bytes of one output file of a prompt (`/view`). */
  const view = async (file: { filename: string; subfolder: string; type: string }, signal: AbortSignal) => {
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
    return data
  }

  return { call, upload, queuePrompt, history, queueItems, ownedBy, view }
}

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
