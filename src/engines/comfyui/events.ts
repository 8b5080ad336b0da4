import type { IncomingMessage } from 'node:http'
import WebSocket from 'ws'
import { createBackoff } from '../../domain/backoff.js'
import type { OutputFile } from './client.js'

/** What the websocket has said about one prompt. */
export interface PromptState {
  progress?: { value: number; max: number }
  /** Each output node's images, from its `executed` event. */
  outputs: Record<string, { images?: OutputFile[] }>
  /** `execution_success` came (newer ComfyUI versions send it; without it, /history is read). */
  succeeded: boolean
  finished: boolean
  error?: Record<string, unknown>
  interrupted: boolean
}

/** One prompt's events, for the task that waits for it. */
export interface PromptEvents {
  state(): PromptState
  /** Bumped on every event for the prompt and on every open or loss of the socket. */
  version(): number
  /** Whether the socket is open now. */
  connected(): boolean
  /** Counts opens: after a reconnect, events sent while the socket was down are lost. */
  opens(): number
  /**
   * Resolves true after `ms` with no change since `since`, false at once if there was one
   * (or on a change or an abort meanwhile).
   */
  waitForChange(since: number, ms: number, signal: AbortSignal): Promise<boolean>
}

/** A task's hold on the socket: it stays open (or reconnects) until every holder is done. */
export interface EventsLease {
  /** Resolves when the socket is open, its attempt under way failed (then polling covers), or on abort. */
  ready(signal: AbortSignal): Promise<void>
  /** The socket now: whether it is open, and how many times it has opened. */
  connection(): { connected: boolean; opens: number }
  follow(promptId: string): PromptEvents
  /** Stops following this task's prompts; the last holder out starts the idle countdown. */
  done(): void
}

export interface ComfyEventsOptions {
  /** The socket is closed after this long with nothing following it (default 60 s), and opened again on use. */
  idleMs?: number
  handshakeTimeoutMs?: number
}

interface Entry {
  state: PromptState
  version: number
  waiters: Set<() => void>
  followers: number
}

/** Events kept for prompts nobody follows yet (their POST /prompt answer not read); the oldest go first. */
const MAX_UNFOLLOWED = 64

/**
 * The one websocket of an engine (`/ws?clientId=…`, one client id per engine): ComfyUI sends
 * every prompt's events to the client id that queued it, each naming its prompt_id, and they
 * are routed by it. Opened on first use; it reconnects with backoff while tasks hold it, and
 * closes after a quiet while. Its TCP socket and its own timers (reconnect, idle close) are
 * unref'd: it never keeps the process alive; a task waiting on it does. While it is down,
 * tasks read /history instead, so a lost socket slows a job, never loses it.
 */
export function createComfyEvents(wsUrl: string, options: ComfyEventsOptions = {}) {
  const idleMs = options.idleMs ?? 60_000
  const handshakeTimeout = options.handshakeTimeoutMs ?? 5_000
  const prompts = new Map<string, Entry>()
  let unfollowed = 0
  let holders = 0
  /** Wanted: between a first use and the idle close (or close()); reconnects happen only then. */
  let active = false
  let closed = false
  let socket: WebSocket | undefined
  let connected = false
  let opens = 0
  let retry: NodeJS.Timeout | undefined
  let idle: NodeJS.Timeout | undefined
  /** ready() callers waiting for the attempt under way to open or fail. */
  const attempt = new Set<() => void>()
  const backoff = createBackoff({ initialMs: 250, factor: 2, maxMs: 2_000 })

  const bump = (entry: Entry) => {
    entry.version++
    for (const wake of [...entry.waiters]) wake()
  }
  const bumpFollowed = () => {
    for (const entry of prompts.values()) if (entry.followers > 0) bump(entry)
  }
  const settleAttempt = () => {
    for (const resolve of [...attempt]) resolve()
    attempt.clear()
  }
  const entryOf = (id: string): Entry => {
    let entry = prompts.get(id)
    if (entry) return entry
    prompts.set(id, (entry = { state: newState(), version: 0, waiters: new Set(), followers: 0 }))
    if (++unfollowed > MAX_UNFOLLOWED) {
      for (const [key, old] of prompts)
        if (old.followers === 0) {
          prompts.delete(key)
          unfollowed--
          break
        }
    }
    return entry
  }

  const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
    if (isBinary) return // previews
    let message: { type?: unknown; data?: unknown } | null
    try {
      message = JSON.parse(data.toString())
    } catch {
      return
    }
    if (!message || typeof message !== 'object' || !message.data || typeof message.data !== 'object') return
    const body = message.data as Record<string, unknown>
    const id = body.prompt_id
    if (typeof id !== 'string') return
    const type = String(message.type)
    if (!Object.hasOwn(EVENTS, type) || (type === 'executing' && body.node !== null)) return
    const apply = EVENTS[type]!
    const entry = entryOf(id)
    apply(entry.state, body)
    bump(entry)
  }

  const connect = () => {
    retry = undefined
    // No Origin header: ComfyUI answers 403 when a browser-like Origin does not match its host.
    const ws = new WebSocket(wsUrl, { handshakeTimeout })
    socket = ws
    ws.on('upgrade', (response: IncomingMessage) => response.socket.unref())
    ws.on('open', () => {
      if (socket !== ws) return
      connected = true
      opens++
      backoff.reset()
      settleAttempt()
      bumpFollowed()
    })
    ws.on('message', onMessage)
    ws.on('error', () => undefined) // 'close' follows
    ws.on('close', () => {
      if (socket !== ws) return // dropped on purpose
      socket = undefined
      const was = connected
      connected = false
      settleAttempt() // a failed attempt: callers go on with /history
      // Losing the socket changes how often /history is read; failed reconnects change nothing.
      if (was) bumpFollowed()
      if (active && !closed) {
        retry = setTimeout(connect, backoff.next())
        retry.unref()
      }
    })
  }
  const shut = () => {
    active = false
    clearTimeout(retry)
    retry = undefined
    const ws = socket
    socket = undefined
    if (connected) {
      connected = false
      bumpFollowed()
    }
    settleAttempt()
    ws?.terminate()
  }

  const follower = (entry: Entry): PromptEvents => ({
    state: () => entry.state,
    version: () => entry.version,
    connected: () => connected,
    opens: () => opens,
    waitForChange(since, ms, signal) {
      if (entry.version !== since || signal.aborted) return Promise.resolve(false)
      return new Promise((resolve) => {
        const done = (timedOut: boolean) => {
          clearTimeout(timer)
          entry.waiters.delete(wake)
          signal.removeEventListener('abort', wake)
          resolve(timedOut)
        }
        const wake = () => done(false)
        // Ref'd, unlike the socket: a task waiting for its prompt keeps the process alive.
        const timer = setTimeout(() => done(true), ms)
        entry.waiters.add(wake)
        signal.addEventListener('abort', wake, { once: true })
      })
    },
  })

  return {
    lease(): EventsLease {
      holders++
      clearTimeout(idle)
      idle = undefined
      if (!closed && !active) {
        active = true
        if (!socket && !retry) connect()
      }
      const followed: string[] = []
      let left = false
      return {
        ready(signal) {
          // Open, or waiting to retry (ComfyUI down): go on at once, /history covers.
          if (connected || !socket || signal.aborted) return Promise.resolve()
          return new Promise<void>((resolve) => {
            const timer = setTimeout(settle, handshakeTimeout + 1_000)
            function settle() {
              clearTimeout(timer)
              attempt.delete(settle)
              signal.removeEventListener('abort', settle)
              resolve()
            }
            attempt.add(settle)
            signal.addEventListener('abort', settle, { once: true })
          })
        },
        connection: () => ({ connected, opens }),
        follow(promptId) {
          const entry = entryOf(promptId)
          if (entry.followers++ === 0) unfollowed--
          followed.push(promptId)
          return follower(entry)
        },
        done() {
          if (left) return
          left = true
          for (const id of followed) {
            const entry = prompts.get(id)
            if (entry && --entry.followers === 0) prompts.delete(id)
          }
          if (--holders === 0 && active) {
            idle = setTimeout(() => holders === 0 && shut(), idleMs)
            idle.unref()
          }
        },
      }
    },
    connected: () => connected,
    /** Closes the socket for good; tasks still waiting go on with /history. */
    close() {
      closed = true
      clearTimeout(idle)
      shut()
      for (const entry of prompts.values()) bump(entry)
    },
  }
}

export type ComfyEvents = ReturnType<typeof createComfyEvents>

const newState = (): PromptState => ({ outputs: {}, succeeded: false, finished: false, interrupted: false })

/** How each event ComfyUI sends about a prompt changes what is known of it. */
const EVENTS: Record<string, (state: PromptState, data: Record<string, unknown>) => void> = {
  progress: (state, data) => {
    state.progress = { value: Number(data.value), max: Number(data.max) }
  },
  // `executing` with node null: the prompt ended and its history is written.
  executing: (state) => {
    state.finished = true
  },
  execution_error: (state, data) => {
    state.error = data
  },
  executed: (state, data) => {
    const output = data.output as { images?: unknown } | null | undefined
    if (typeof data.node === 'string' && output && Array.isArray(output.images))
      state.outputs[data.node] = { images: output.images as OutputFile[] }
  },
  execution_success: (state) => {
    state.succeeded = true
  },
  execution_interrupted: (state) => {
    state.interrupted = true
  },
}
