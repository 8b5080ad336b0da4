import type http from 'node:http'
import sharp from 'sharp'

/**
 * How a provider emulator answers the submits it gets from now on: the engine conformance
 * suite (test/integration/engine-conformance.test.ts) sets one per test and drives every
 * provider's emulator the same way. Each emulator renders it in its provider's own shapes
 * (status codes, error bodies, status strings), as that provider's documents describe them.
 */
export interface ProviderScript {
  /**
   * Refuse the submit the way this provider does (its status code and error body):
   * `bad_key` (401/403), `no_credit` (402, or fal's 403 "Exhausted balance"), `rate_limited`
   * (429), `invalid` (400/422, a field rejected), `server_error` (500).
   */
  refuse?: 'bad_key' | 'no_credit' | 'rate_limited' | 'invalid' | 'server_error'
  /** With `rate_limited`: the Retry-After header, in seconds. */
  retryAfterS?: number
  /** Read the whole submit, then destroy the connection without answering: the answer is lost. */
  dropSubmit?: boolean
  /** How an accepted task ends (default `ready`). */
  outcome?: 'ready' | 'request_moderated' | 'content_moderated' | 'error'
  /** Status reads answered "still running" before the outcome (async providers; default 2). */
  pendingPolls?: number
  /** Status reads answered with a 503 first (a blip while polling; default 0). */
  pollErrors?: number
  /** The task never ends (for cancel and timeout tests); a sync provider never answers. */
  hang?: boolean
  /** A sync provider answers (an async one finishes) no sooner than this long after the submit. */
  delayMs?: number
}

/** What the conformance suite reads back from every provider emulator. */
export interface ProviderEmulator {
  /** The base URL an engine is configured with (FLUXHOST_<NAME>_URL). */
  url: string
  /** The key it accepts; any other is refused with the provider's 401/403. */
  key: string
  /** Sets how the following submits are answered (until the next call). */
  script(next: ProviderScript): void
  /** Every submit received, refused or not, with its parsed JSON body and headers. */
  submits: { path: string; body: any; headers: http.IncomingHttpHeaders }[]
  /** The provider's ids of the tasks canceled through its cancel endpoint. */
  cancels: string[]
  /** Tasks accepted and neither finished nor canceled. */
  active(): number
  close(): Promise<void>
}

/** A solid image of the asked size in the asked format: what a provider's result URL serves. */
export function renderImage(width: number, height: number, format: 'jpeg' | 'png' | 'webp'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 30, g: 120, b: 200 } } })
    .toFormat(format)
    .toBuffer()
}

/** Reads a request's body whole. */
export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let raw = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (raw += chunk))
    req.on('end', () => resolve(raw))
    req.on('error', reject)
  })
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

/** Drops the connection without an answer (ProviderScript.dropSubmit). */
export function dropConnection(req: http.IncomingMessage): void {
  req.socket.destroy()
}
