import { type ComfyTestGraph, renderImages } from './comfyui-graph.js'

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
  /** After that drop, the sampler waits until the prompt's client has connected again (up to 10 s). */
  awaitReconnect?: boolean
  /** Queue the prompt, then cut the connection instead of answering POST /prompt (an answer lost). */
  loseAnswer?: boolean
  /**
   * Refuse POST /prompt instead of queueing: 403 (the origin check refused the caller), 400
   * (validate_prompt: a model that is not installed), 500 (the handler raised).
   */
  submitStatus?: 400 | 403 | 500
  /** The prompt's first reads of /history/{id} answer 503 (a blip between fluxhost and ComfyUI). */
  historyErrors?: number
}

export interface Prompt {
  id: string
  number: number
  graph: ComfyTestGraph
  clientId: string | undefined
  /** extra_data as ComfyUI keeps it: the request's, with client_id added. */
  extraData: Record<string, unknown>
  script: ComfyScript
  interrupted: boolean
  wake?: () => void
  /** Epoch ms: accepted by POST /prompt, started executing, history written. */
  receivedAt: number
  startedAt?: number
  endedAt?: number
}

export type OutputFile = { filename: string; subfolder: string; type: string }
export type HistoryEntry = {
  prompt: unknown[]
  outputs: Record<string, { images: OutputFile[] }>
  status: { status_str: string; completed: boolean; messages: [string, unknown][] }
  meta: object
}

/** A file's key in `files`: its folder (input, output, temp), subfolder and name. */
export const fileKey = (file: OutputFile) => [file.type, file.subfolder, file.filename].filter(Boolean).join('/')

/** What the prompt worker reaches of the emulator. */
export interface WorkerDeps {
  stepMs: number
  files: Map<string, Buffer>
  history: Map<string, HistoryEntry>
  /** Sends an event to one client's socket, if it has one open. */
  send(clientId: string | undefined, type: string, data: Record<string, unknown>): void
  hasSocket(clientId: string): boolean
  dropSockets(): void
  until(predicate: () => boolean): Promise<void>
  changed(): void
  nextFile(): number
}

/** A queue item as GET /queue lists it and history keeps it: [number, id, graph, extra_data, outputs]. */
export const queueItem = (p: Prompt) => [p.number, p.id, p.graph, p.extraData, ['9']]

const sleep = (prompt: Prompt, ms: number) =>
  new Promise<void>((done) => {
    const timer = setTimeout(done, ms)
    prompt.wake = () => {
      clearTimeout(timer)
      done()
    }
  })

/** ComfyUI's prompt worker for one prompt: events to its client, files, history at the end. */
export async function executePrompt(prompt: Prompt, deps: WorkerDeps): Promise<void> {
  const { send, changed } = deps
  const { id, graph, clientId } = prompt
  const messages: [string, unknown][] = []
  const event = (type: string, data: Record<string, unknown>, keep = false) => {
    if (keep) messages.push([type, { prompt_id: id, ...data, timestamp: Date.now() }])
    send(clientId, type, { ...data, prompt_id: id })
    changed()
  }
  prompt.startedAt = Date.now()
  const finish = (status_str: string, outputs: HistoryEntry['outputs'] = {}) => {
    prompt.endedAt = Date.now()
    deps.history.set(id, {
      prompt: queueItem(prompt),
      outputs,
      status: { status_str, completed: status_str === 'success', messages },
      meta: {},
    })
    send(clientId, 'executing', { node: null, prompt_id: id })
    changed()
  }
  event('execution_start', {}, true)
  event('execution_cached', { nodes: [] }, true)
  const outputs: HistoryEntry['outputs'] = {}
  for (const [nodeId, node] of Object.entries(graph)) {
    event('executing', { node: nodeId, display_node: nodeId })
    const where = { node_id: nodeId, node_type: node.class_type, executed: [] }
    if (node.class_type === 'KSampler') {
      const steps = prompt.script.steps ?? Number(node.inputs.steps)
      for (let step = 1; step <= steps; step++) {
        await sleep(prompt, prompt.script.stepMs ?? deps.stepMs)
        if (prompt.interrupted) {
          event('execution_interrupted', where, true)
          return finish('error')
        }
        event('progress', { value: step, max: steps, node: nodeId })
        if (prompt.script.dropSocketsAfterStep === step) {
          deps.dropSockets()
          if (prompt.script.awaitReconnect)
            await deps.until(() => deps.hasSocket(clientId ?? '')).catch(() => undefined)
        }
      }
      if (prompt.script.error) {
        const failure = { exception_message: prompt.script.error, exception_type: 'RuntimeError', traceback: [] }
        event('execution_error', { ...where, ...failure, current_inputs: {}, current_outputs: {} }, true)
        return finish('error')
      }
    }
    if (node.class_type === 'SaveImage' || node.class_type === 'PreviewImage') {
      const written = await renderImages(graph, node, deps.nextFile)
      for (const file of written) deps.files.set(fileKey(file), file.data)
      const images = written.map(({ filename, subfolder, type }) => ({ filename, subfolder, type }))
      outputs[nodeId] = { images }
      event('executed', { node: nodeId, display_node: nodeId, output: { images } })
    }
  }
  event('execution_success', {}, true)
  finish('success', outputs)
}
