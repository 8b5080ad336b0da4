// The page's live view of its key's jobs: one stream of every change (GET /api/events) that
// survives the network. When the stream drops it reconnects with growing, jittered delays,
// resuming after the last event it saw (the server replays what was missed, or says `reset`:
// then the page reads its jobs again); while it is down, the jobs the page shows unfinished
// are polled, so nothing stays stale. Read with fetch: EventSource cannot send the key header.

/** The least of a job the stream carries that this module reads (the page gets the whole object). */
export interface LiveJob {
  id: string
  state: string
}

export type LiveStatus =
  | { state: 'connecting' }
  | { state: 'live' }
  /** The stream is down: the next try in `inMs`; the page's unfinished jobs are polled meanwhile. */
  | { state: 'retrying'; inMs: number; tries: number }
  /** The key was refused: nothing more is tried until `restart`. */
  | { state: 'refused'; message: string }

export interface LiveOptions<J extends LiveJob> {
  /** The API key to send (read at each connection: the page may change it). */
  key(): string
  /** A job's whole record, whenever it changed (from the stream, or from a poll while it is down). */
  onJob(job: J): void
  onProgress(jobId: string, progress: number): void
  /** A job was deleted (here or on another page): nothing of it should stay shown. */
  onDeleted(jobId: string): void
  /** Changes were missed and are not known: read again what the page shows. */
  onReset(): void
  onStatus(status: LiveStatus): void
  /** The ids of the unfinished jobs the page shows: polled while the stream is down. */
  watched(): readonly string[]
  /** For tests: the base of the growing delay (default 1 s; at most 15 s). */
  baseDelayMs?: number
}

const MAX_DELAY_MS = 15_000
const POLL_MS = 2_000
/** While the stream is up, the unfinished jobs are read this often too: a change the server's
 * event channel lost (it promises at most once) is still seen. */
const SLOW_POLL_MS = 10_000
/** The server sends a keep-alive every 15 s: nothing for this long means the path is dead. */
const SILENCE_MS = 35_000
/** A block of the stream: `event:`, `id:` and `data:` lines, ended by an empty line. */
const parseBlock = (block: string) => {
  let event = 'message'
  let id: string | undefined
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim()
    else if (line.startsWith('id:')) id = line.slice(3).trim()
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
  }
  return { event, id, data: data.length > 0 ? data.join('\n') : undefined }
}

export function connectLive<J extends LiveJob>(options: LiveOptions<J>) {
  const base = options.baseDelayMs ?? 1000
  let lastEventId: string | undefined
  let stopped = false
  let current: AbortController | undefined
  let wake: (() => void) | undefined
  // Set by restart: the next connection is tried at once, from the shortest delay.
  let again = false
  // Set when a connection got as far as `ready`, however it ended later.
  let gotReady = false

  /** Waits `ms`, or less when `restart` is called; polls the watched jobs meanwhile. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timers: ReturnType<typeof setTimeout>[] = []
      const done = () => {
        for (const timer of timers) clearTimeout(timer)
        wake = undefined
        resolve()
      }
      wake = done
      timers.push(setTimeout(done, ms))
      for (let at = Math.min(POLL_MS, ms); at < ms; at += POLL_MS) timers.push(setTimeout(() => void poll(), at))
    })

  // One round of polls at a time, each bounded: a slow server does not pile them up.
  let polling = false
  const poll = async () => {
    if (polling || stopped) return
    polling = true
    try {
      for (const id of options.watched()) {
        if (stopped) return
        try {
          const response = await fetch(`/api/jobs/${encodeURIComponent(id)}`, {
            headers: { 'x-key': options.key() },
            signal: AbortSignal.timeout(POLL_MS * 2),
          })
          if (response.ok) options.onJob((await response.json()) as J)
        } catch {
          // Still down: the next poll or the reconnection will tell.
        }
      }
    } finally {
      polling = false
    }
  }
  const slowPoll = setInterval(() => void poll(), SLOW_POLL_MS)

  /** One connection: resolves when the stream ends (`ready`: whether it got as far as `ready`). */
  const stream = async (): Promise<{ ready: boolean } | 'refused' | { retryAfterMs: number }> => {
    const controller = new AbortController()
    current = controller
    try {
      return await connect(controller)
    } finally {
      // Whatever ended it (a handler that threw included): the connection is let go.
      controller.abort()
    }
  }

  const connect = async (
    controller: AbortController,
  ): Promise<{ ready: boolean } | 'refused' | { retryAfterMs: number }> => {
    const current = controller
    const query = lastEventId === undefined ? '' : `?lastEventId=${encodeURIComponent(lastEventId)}`
    const response = await fetch(`/api/events${query}`, {
      headers: { 'x-key': options.key(), accept: 'text/event-stream' },
      signal: current.signal,
    })
    if (response.status === 401 || response.status === 403) {
      const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null
      options.onStatus({ state: 'refused', message: body?.error?.message ?? 'The API key was not accepted.' })
      return 'refused'
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel()
      const after = Number(response.headers.get('retry-after'))
      return { retryAfterMs: Number.isFinite(after) && after > 0 ? after * 1000 : 0 }
    }
    options.onStatus({ state: 'live' })
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    let ready = false
    let silence = setTimeout(() => current.abort(), SILENCE_MS)
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return { ready }
        clearTimeout(silence)
        silence = setTimeout(() => current.abort(), SILENCE_MS)
        buffer += value.replace(/\r\n?/g, '\n')
        let end = buffer.indexOf('\n\n')
        while (end !== -1) {
          const { event, id, data } = parseBlock(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
          if (id !== undefined) lastEventId = id
          if (event === 'ready') ready = gotReady = true
          else if (event === 'job' && data) options.onJob(JSON.parse(data) as J)
          else if (event === 'progress' && data) {
            const { id: jobId, progress } = JSON.parse(data) as { id: string; progress: number }
            options.onProgress(jobId, progress)
          } else if (event === 'deleted' && data) options.onDeleted((JSON.parse(data) as { id: string }).id)
          else if (event === 'reset') options.onReset()
          end = buffer.indexOf('\n\n')
        }
      }
    } finally {
      clearTimeout(silence)
    }
  }

  const run = async () => {
    let tries = 0
    while (!stopped) {
      // (A restart asked for before this connection has been served by it.)
      again = false
      options.onStatus({ state: 'connecting' })
      let outcome: Awaited<ReturnType<typeof stream>> | 'failed'
      try {
        outcome = await stream()
      } catch {
        outcome = 'failed'
      }
      if (stopped) return
      if (again) {
        again = false
        tries = 0
        continue
      }
      if (outcome === 'refused') {
        await new Promise<void>((resolve) => (wake = resolve))
        tries = 0
        continue
      }
      // A stream that got as far as `ready` starts the delays again from the shortest (one that
      // a proxy ends at once does not: its reconnections back off).
      if (gotReady) tries = 0
      gotReady = false
      tries++
      const grown = Math.min(MAX_DELAY_MS, base * 2 ** (tries - 1))
      const jittered = Math.round(grown * (0.5 + Math.random() / 2))
      const inMs =
        typeof outcome === 'object' && 'retryAfterMs' in outcome ? Math.max(outcome.retryAfterMs, jittered) : jittered
      options.onStatus({ state: 'retrying', inMs, tries })
      // What changed while the stream was down is learned now, not after the delay.
      void poll()
      await pause(inMs)
    }
  }
  void run()

  return {
    /** Connects again at once (a new key; or the user asked to retry now). */
    restart() {
      again = true
      current?.abort()
      wake?.()
    },
    close() {
      stopped = true
      clearInterval(slowPoll)
      current?.abort()
      wake?.()
    },
  }
}
