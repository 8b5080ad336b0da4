import WebSocket from 'ws'
import { createBackoff } from '../../domain/backoff.js'

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
export function openEvents(wsUrl: string) {
  const prompts = new Map<string, PromptState>()
  /** Bumped on every change (an event, an open, a close); waiters compare it, so none is lost. */
  let version = 0
  const waiters = new Set<() => void>()
  const onChange = () => {
    version++
    for (const wake of [...waiters]) wake()
  }
  let socket: WebSocket | undefined
  let connected = false
  let closed = false
  let retry: NodeJS.Timeout | undefined
  const backoff = createBackoff({ initialMs: 250, factor: 2, maxMs: 2_000 })
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
      backoff.reset()
      opened()
      onChange()
    })
    ws.on('message', (data, isBinary) => {
      if (isBinary) return // preview images
      let message: { type?: unknown; data?: Record<string, unknown> } | null
      try {
        message = JSON.parse(data.toString())
      } catch {
        return
      }
      if (!message || typeof message !== 'object' || !message.data || typeof message.data !== 'object') return
      const id = message.data.prompt_id
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
      const was = connected
      connected = false
      opened() // the first attempt failed: the caller goes on with /history
      if (closed) return
      // Losing the socket changes how often /history is read; failed reconnects change nothing.
      if (was) onChange()
      retry = setTimeout(connect, backoff.next())
    })
  }
  connect()
  return {
    /** Resolves when the socket is open, or the first attempt failed (then polling covers). */
    ready: () => Promise.race([firstOpen, new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref())]),
    connected: () => connected,
    opens: () => opens,
    version: () => version,
    state,
    /**
     * Resolves true after `ms` with no change since `since`, false at once if there was one
     * (or on a change or an abort meanwhile).
     */
    waitForChange(since: number, ms: number, signal: AbortSignal): Promise<boolean> {
      if (version !== since || signal.aborted) return Promise.resolve(false)
      return new Promise((resolve) => {
        const done = (timedOut: boolean) => {
          clearTimeout(timer)
          waiters.delete(wake)
          signal.removeEventListener('abort', wake)
          resolve(timedOut)
        }
        const wake = () => done(false)
        const timer = setTimeout(() => done(true), ms)
        waiters.add(wake)
        signal.addEventListener('abort', wake, { once: true })
      })
    },
    close() {
      closed = true
      for (const wake of [...waiters]) wake()
      clearTimeout(retry)
      socket?.terminate()
    },
  }
}
