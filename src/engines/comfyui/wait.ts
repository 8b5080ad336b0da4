import type { EngineContext } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import type { ComfyClient, HistoryEntry } from './client.js'
import type { PromptEvents, PromptState } from './events.js'

export interface WaitOptions {
  /** How often /history is read while the websocket is down (and, 5× slower, while it is up). */
  pollMs: number
  taskTimeoutMs: number
  /** The socket when the prompt was sent: open then and never lost since, it missed no event. */
  since: { connected: boolean; opens: number }
  /** The graph's SaveImage and PreviewImage nodes: each must have reported its images. */
  outputNodes: string[]
}

/** How long ComfyUI may stay unreachable while a prompt runs before the job fails over. */
const UNREACHABLE_MS = 60_000

/**
 * Waits for the prompt to end, from its websocket events, or /history when they do not come
 * or may have missed some (the socket dropped). Reports the sampler's progress; throws on an
 * execution error or an interrupt the socket saw.
 */
export async function waitForPrompt(
  promptId: string,
  events: PromptEvents,
  client: ComfyClient,
  ctx: EngineContext,
  options: WaitOptions,
): Promise<HistoryEntry> {
  const { pollMs, taskTimeoutMs } = options
  const started = Date.now()
  let lastProgress = -1
  let quiet = false
  let opens = events.opens()
  let unreachableSince: number | undefined
  for (;;) {
    throwIfAborted(ctx.signal)
    const seen = events.version()
    const s = events.state()
    if (s.progress && s.progress.max > 0) {
      const fraction = Math.min(1, s.progress.value / s.progress.max)
      if (fraction !== lastProgress) ctx.progress(0.05 + 0.9 * (lastProgress = fraction))
    }
    if (s.error) throw new EngineError('failed', describeExecutionError(s.error))
    if (s.interrupted)
      throw new EngineError('failed', 'ComfyUI interrupted the prompt (it was stopped on the ComfyUI side)')
    // /history is read when the socket says the prompt ended, after it reconnects (events
    // sent meanwhile are lost), and after every quiet wait: each pollMs while the socket is
    // down, every five while it is up.
    const reconnected = events.opens() !== opens
    opens = events.opens()
    if (s.finished && sawEverything(s, events, options)) return fromEvents(s)
    if (s.finished || quiet || reconnected) {
      let lost = false
      try {
        const entry = await client.history(promptId, ctx.signal)
        if (entry && (entry.status ? entry.status.completed || entry.status.status_str === 'error' : entry.outputs))
          return entry
        if (!entry && quiet) {
          // Nothing happened for a while: is the prompt still queued or running at all?
          const queue = await client.queueItems(ctx.signal)
          const listed = [...queue.running, ...queue.pending].some((item) => item[1] === promptId)
          if (!listed) {
            const last = await client.history(promptId, ctx.signal) // it may have ended just now
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
    if (Date.now() - started > taskTimeoutMs)
      throw new EngineError('failed', `ComfyUI had not finished the prompt after ${Math.round(taskTimeoutMs / 1000)} s`)
    quiet = await events.waitForChange(seen, events.connected() ? pollMs * 5 : pollMs, ctx.signal)
  }
}

/**
 * Whether the socket told the whole story: open since before the prompt was sent, success
 * reported, and images from every output node of the graph. Then /history would add nothing.
 */
function sawEverything(s: PromptState, events: PromptEvents, { since, outputNodes }: WaitOptions): boolean {
  return (
    since.connected &&
    events.connected() &&
    events.opens() === since.opens &&
    s.succeeded &&
    !s.error &&
    !s.interrupted &&
    outputNodes.length > 0 &&
    outputNodes.every((node) => s.outputs[node] !== undefined)
  )
}

/** The history entry the events amount to. */
const fromEvents = (s: PromptState): HistoryEntry => ({
  outputs: s.outputs,
  status: { status_str: 'success', completed: true },
})

export function describeExecutionError(data: Record<string, unknown>): string {
  const node = data.node_id
    ? ` in node ${String(data.node_id)}${data.node_type ? ` (${String(data.node_type)})` : ''}`
    : ''
  const message = String(data.exception_message ?? 'unknown error')
    .trim()
    .slice(0, 500)
  return `ComfyUI failed${node}: ${data.exception_type ? `${String(data.exception_type)}: ` : ''}${message}`
}
