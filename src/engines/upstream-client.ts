import type { IncomingHttpHeaders } from 'node:http'
import { type Dispatcher, type FormData, request } from 'undici'
import { parseRetryAfter } from '../net/retry-after.js'
import { apiUrl } from './api-url.js'
import { EngineError } from './engine-error.js'
import { notSentCode, parseJson } from './upstream.js'

/** Downloads a file from a URL off the provider's own host, through the checked outbound agent. */
export type CheckedDownload = (url: string, signal: AbortSignal) => Promise<Buffer>

export interface UpstreamClientOptions {
  /** The provider's name in every message: `fal`, `Replicate`. */
  provider: string
  /** The API's base URL; paths are appended to it. */
  base: string
  /** Sent with every API request (authorization, accept). */
  headers?: Record<string, string>
  /** Each request's limit, sending to last byte (default 30 s). */
  timeoutMs?: number
  /** Result files on other hosts (a CDN) are fetched through this; same-host ones directly. */
  download?: CheckedDownload
  /** The largest result file accepted (default 64 MiB). */
  maxDownloadBytes?: number
  /** Response headers that carry the provider's request id, in order of preference. */
  requestIdHeaders?: readonly string[]
  /** The operator's own server (ComfyUI, sd-server): a lost task costs GPU time, not money. */
  local?: boolean
  /**
   * Hosts other than the base URL's that absolute URLs in the provider's answers may point at
   * (BFL's regional polling hosts). Any other is not fetched: the request would carry the key.
   */
  allowHost?: (host: string) => boolean
}

/** One answer from the upstream, read whole (bounded by `maxBodyBytes`). */
export interface UpstreamAnswer {
  status: number
  headers: IncomingHttpHeaders
  text: string
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown
  /** The provider's id for this request, from its headers, when it sent one. */
  requestId: string | undefined
}

export interface SendOptions {
  signal: AbortSignal
  /** A JSON body. */
  body?: unknown
  form?: FormData
  headers?: Record<string, string>
  /**
   * The request creates (and may bill) work upstream. A connection that was made but whose
   * answer was lost is then `submitLost` (never re-sent); for other requests it is transient.
   */
  submit?: boolean
  timeoutMs?: number
  /** The largest answer read (default 4 MiB; answers that carry images inline need more). */
  maxBytes?: number
}

/** What `statusError` is told about the provider's documented behaviour. */
export interface StatusRules {
  /** What the request was, for the message: `the submit`, `the status poll`. */
  what: string
  /** The request was a submit: a 5xx may have created a billed task unless `notChargedOn5xx`. */
  submit?: boolean
  /** The provider documents that a 5xx answer to a submit created nothing (fal). */
  notChargedOn5xx?: boolean
}

/** API answers are JSON of a few KiB; anything past this is cut off (a hostile or broken upstream). */
const MAX_BODY_BYTES = 4 * 1024 * 1024
const DEFAULT_REQUEST_ID_HEADERS = ['x-request-id', 'request-id', 'x-trace-id', 'cf-ray'] as const

/**
 * The one HTTP layer every remote engine speaks through: requests with a deadline, transport
 * errors mapped to EngineErrors (never re-sending a submit whose answer was lost), bounded and
 * safely parsed bodies, the provider's request id, the standard status mapping, and result
 * downloads (same host directly, any other host through the checked outbound agent).
 */
export function createUpstreamClient(options: UpstreamClientOptions) {
  const { provider } = options
  const base = options.base.replace(/\/+$/, '')
  const origin = new URL(base).origin
  const timeoutMs = options.timeoutMs ?? 30_000
  const maxDownload = options.maxDownloadBytes ?? 64 * 1024 * 1024
  const idHeaders = options.requestIdHeaders ?? DEFAULT_REQUEST_ID_HEADERS
  const mayExist = options.local ? 'the task may be queued there' : 'the task may exist there and be billed'
  const url = (pathOrUrl: string): string => {
    const target = apiUrl(base, pathOrUrl, options.allowHost)
    if (!target) throw new EngineError('failed', `${provider} answered with a URL that is not one`)
    return target
  }

  const requestIdOf = (headers: IncomingHttpHeaders): string | undefined => {
    for (const name of idHeaders) {
      const value = headers[name]
      const first = Array.isArray(value) ? value[0] : value
      if (first) return first.slice(0, 200)
    }
    return undefined
  }

  const transportError = (error: unknown, signal: AbortSignal, what: string, submit: boolean): EngineError => {
    if (signal.aborted) {
      const note = submit ? ` (the ${provider} task may exist upstream)` : ''
      return new EngineError('canceled', `canceled while waiting for ${provider} to answer ${what}${note}`, {
        cause: error,
      })
    }
    // Only a connection that was never made proves the request was not sent.
    const code = notSentCode(error)
    if (code) return new EngineError('unavailable', `${provider} could not be reached (${code})`, { cause: error })
    const reason = (error as Error).message || 'the connection broke'
    if (submit)
      return new EngineError('failed', `${provider} did not answer ${what} (${reason}); not re-sent, as ${mayExist}`, {
        cause: error,
        submitLost: true,
      })
    return new EngineError('unavailable', `${provider} did not answer ${what}: ${reason}`, { cause: error })
  }

  const send = async (method: string, pathOrUrl: string, opts: SendOptions): Promise<UpstreamAnswer> => {
    const target = url(pathOrUrl)
    const what = `${method} ${new URL(target).pathname}`
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers, ...opts.headers }
    let body: string | FormData | undefined
    if (opts.form) body = opts.form
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body)
      headers['content-type'] = 'application/json'
    }
    let response: Dispatcher.ResponseData
    let text: string
    try {
      response = await request(target, {
        method: method as Dispatcher.HttpMethod,
        signal: AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs ?? timeoutMs)]),
        headers,
        body,
      })
      text = await readText(response.body, opts.maxBytes ?? MAX_BODY_BYTES)
    } catch (error) {
      if (error instanceof TooLarge)
        throw new EngineError('failed', `${provider}'s answer to ${what} is larger than ${error.message}`, {
          cause: error,
          submitLost: opts.submit ?? false,
        })
      throw transportError(error, opts.signal, what, opts.submit ?? false)
    }
    return {
      status: response.statusCode,
      headers: response.headers,
      text,
      json: parseJson(text),
      requestId: requestIdOf(response.headers),
    }
  }

  /**
   * The standard meaning of a non-2xx answer: 401/403 a refused key (unavailable), 402 no
   * credit, 429 rate limited (with Retry-After), 408 and 5xx on a submit possibly billed
   * (submitLost) unless the provider says otherwise, any other 4xx a rejected request (not
   * charged). Engines check their provider's own cases first (fal's 403 "Exhausted balance").
   */
  const statusError = (answer: UpstreamAnswer, rules: StatusRules): EngineError => {
    const { status, requestId } = answer
    const detail = describeBody(answer)
    const said = detail ? `: ${detail}` : ''
    const ids = { requestId }
    if (status === 401 || status === 403)
      return new EngineError('unavailable', `${provider} refused the API key (${status})${said}`, ids)
    if (status === 402)
      return new EngineError('insufficient_credits', `the ${provider} account cannot pay (402)${said}`, ids)
    if (status === 429)
      return new EngineError('rate_limited', `${provider} is rate limiting this account (429)${said}`, {
        ...ids,
        retryAfterMs: retryAfterMs(answer) ?? 5_000,
      })
    const lost = rules.submit && (status === 408 || (status >= 500 && !rules.notChargedOn5xx))
    if (lost)
      return new EngineError(
        'failed',
        `${provider} answered ${status} to ${rules.what}; not re-sent, as ${mayExist}${said}`,
        { ...ids, submitLost: true },
      )
    if (status >= 500 || status === 408)
      return new EngineError('unavailable', `${provider} answered ${status} to ${rules.what}${said}`, ids)
    if (status >= 400) return new EngineError('invalid', `${provider} rejected ${rules.what} (${status})${said}`, ids)
    return new EngineError('failed', `${provider} answered ${status} to ${rules.what}${said}`, ids)
  }

  const retryAfterMs = (answer: UpstreamAnswer): number | undefined =>
    parseRetryAfter(answer.headers['retry-after'], Date.now())

  /** A result file: from the provider's own host directly, from any other through the checked agent. */
  const download = async (fileUrl: string, signal: AbortSignal, headers?: Record<string, string>): Promise<Buffer> => {
    let target: URL
    try {
      target = new URL(fileUrl, `${base}/`)
    } catch {
      throw new EngineError('failed', `${provider} gave a result URL that is not a URL`)
    }
    try {
      if (target.origin !== origin) {
        if (!options.download)
          throw new EngineError('failed', `${provider}'s result is on another host (${target.host}), not fetched`)
        return await options.download(target.toString(), signal)
      }
      const response = await request(target, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        headers,
      })
      if (response.statusCode !== 200) {
        await response.body.dump()
        throw new EngineError('failed', `${provider}'s result could not be downloaded (${response.statusCode})`)
      }
      return await readBytes(response.body, maxDownload)
    } catch (error) {
      if (error instanceof EngineError) throw error
      if (signal.aborted) throw new EngineError('canceled', `canceled while downloading ${provider}'s result`)
      const why = error instanceof TooLarge ? `it is larger than ${error.message}` : (error as Error).message
      throw new EngineError('failed', `${provider}'s result could not be downloaded: ${why}`, {
        cause: error,
      })
    }
  }

  return { provider, base, send, statusError, retryAfterMs, download }
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>

/** The message an error body carries, in any of the shapes providers use, cut to 300 characters. */
export function describeBody(answer: Pick<UpstreamAnswer, 'json' | 'text'>): string {
  const json = answer.json as Record<string, unknown> | undefined
  const pick = (value: unknown): string | undefined => {
    if (typeof value === 'string') return value
    if (Array.isArray(value))
      return value
        .map((item) => {
          const entry = item as { loc?: unknown[]; msg?: unknown }
          return entry && typeof entry === 'object' && 'msg' in entry
            ? `${Array.isArray(entry.loc) ? `${entry.loc.join('.')}: ` : ''}${String(entry.msg)}`
            : JSON.stringify(item)
        })
        .join('; ')
    if (value && typeof value === 'object') return pick((value as { message?: unknown }).message)
    return undefined
  }
  const found =
    json && typeof json === 'object'
      ? (pick(json.detail) ?? pick(json.error) ?? pick(json.message) ?? pick(json.title))
      : undefined
  return (found ?? answer.text.trim()).replace(/\s+/g, ' ').slice(0, 300)
}

/** An answer or a file past its limit: a broken or hostile upstream, not a network blip. */
class TooLarge extends Error {}

async function readBytes(body: Dispatcher.ResponseData['body'], max: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > max) {
      body.on('error', () => undefined)
      body.destroy()
      throw new TooLarge(`${Math.round(max / 1024 / 1024)} MiB`)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

async function readText(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  return (await readBytes(body, max)).toString('utf8')
}
