import dns from 'node:dns'
import net from 'node:net'
import { Agent, type Dispatcher, request } from 'undici'
import { isBlockedAddress } from './address-policy.js'

export interface FetchPolicy {
  /** FLUXHOST_ALLOW_PRIVATE_URLS: let fetches reach loopback and private networks. */
  allowPrivate: boolean
  timeoutMs: number
  maxBytes: number
  maxRedirects: number
  /** Which addresses are off limits; the default is `isBlockedAddress`. */
  isBlocked?: (address: string) => boolean
}

/** Why a URL could not be fetched, in words a client can act on. */
export class FetchRefused extends Error {
  /** `retryable`: the URL is acceptable but got no answer (timeout, connection error). */
  constructor(
    message: string,
    readonly retryable = false,
  ) {
    super(message)
    this.name = 'FetchRefused'
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void

/** How long a create waits on DNS to vet a URL before accepting it for the connect-time check. */
const VET_DNS_TIMEOUT_MS = 3000

/** What a POST to a client's URL (a webhook) came back with. */
export interface PostOutcome {
  status: number
  headers: Record<string, string | string[] | undefined>
  /** The first bytes of the answer, for the delivery log. */
  bodyStart: string
}

/**
 * Talks to URLs given by clients (image prompts to fetch, webhooks to call) without letting
 * a client aim the server at itself or its network: http(s) only; every address a host name resolves to is
 * checked, and the connection is made to a checked address (so a DNS answer that changes
 * between check and connect cannot slip through); redirects are followed by hand, each hop
 * checked the same way; time and size are bounded.
 */
export function createOutbound(policy: FetchPolicy) {
  const isBlocked = policy.isBlocked ?? isBlockedAddress
  const allowed = (address: string) => policy.allowPrivate || !isBlocked(address)

  const lookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    dns.lookup(hostname, { all: true, family: options.family ?? 0 }, (error, addresses) => {
      if (error) return callback(error, [])
      const usable = addresses.filter((a) => allowed(a.address))
      if (usable.length === 0) {
        return callback(
          Object.assign(new FetchRefused(`${hostname} resolves only to private or reserved addresses`), {
            code: 'EREFUSED',
          }),
          [],
        )
      }
      if (options.all) callback(null, usable)
      else callback(null, usable[0]!.address, usable[0]!.family)
    })
  }

  const agent = new Agent({
    connect: { lookup: lookup as never, timeout: policy.timeoutMs },
    headersTimeout: policy.timeoutMs,
    bodyTimeout: policy.timeoutMs,
  })

  const check = (raw: string): URL => {
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new FetchRefused('not a valid URL')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new FetchRefused(`only http and https URLs can be fetched, not ${url.protocol}`)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (net.isIP(host) && !allowed(host)) {
      throw new FetchRefused(`${host} is a private or reserved address (set FLUXHOST_ALLOW_PRIVATE_URLS=1 to allow)`)
    }
    return url
  }

  return {
    policy,
    /**
     * Checks a URL before it is accepted (a job's webhook_url): scheme, and every address its
     * host resolves to now. The connection is checked again when it is made.
     */
    async vet(raw: string): Promise<void> {
      const url = check(raw)
      const host = url.hostname.replace(/^\[|\]$/g, '')
      if (net.isIP(host)) return
      let addresses: dns.LookupAddress[]
      let timer: NodeJS.Timeout | undefined
      try {
        addresses = await Promise.race([
          dns.promises.lookup(host, { all: true }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(Object.assign(new Error('DNS lookup timed out'), { code: 'ETIMEOUT' })),
              VET_DNS_TIMEOUT_MS,
            )
          }),
        ])
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        // A name that does not exist is refused; a resolver that is slow or failing now is not
        // the client's fault, and every connection is checked again when it is made.
        if (code === 'ENOTFOUND' || code === 'ENODATA')
          throw new FetchRefused(`${host} could not be resolved (${code})`)
        return
      } finally {
        clearTimeout(timer)
      }
      if (!addresses.some((a) => allowed(a.address))) {
        throw new FetchRefused(
          `${host} resolves only to private or reserved addresses (set FLUXHOST_ALLOW_PRIVATE_URLS=1 to allow)`,
        )
      }
    },

    /**
     * POSTs a body and reports the answer. Redirects are not followed (a 3xx is an answer
     * like any other); the whole exchange is bounded by `timeoutMs`. Throws FetchRefused when
     * there is no answer: refused address, connection error, timeout.
     */
    async post(
      raw: string,
      body: string,
      headers: Record<string, string>,
      options: { timeoutMs?: number; signal?: AbortSignal } = {},
    ): Promise<PostOutcome> {
      const deadline = AbortSignal.timeout(options.timeoutMs ?? policy.timeoutMs)
      const abort = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline
      const url = check(raw)
      try {
        const response = await request(url, { method: 'POST', dispatcher: agent, signal: abort, headers, body })
        let bodyStart = ''
        for await (const chunk of response.body) {
          if (bodyStart.length < 512) bodyStart += (chunk as Buffer).toString('utf8', 0, 512 - bodyStart.length)
          else {
            discard(response.body)
            break
          }
        }
        return { status: response.statusCode, headers: response.headers, bodyStart }
      } catch (error) {
        if (deadline.aborted)
          throw new FetchRefused(`no answer within ${(options.timeoutMs ?? policy.timeoutMs) / 1000} s`, true)
        if (options.signal?.aborted) throw new FetchRefused('stopped', true)
        const cause = (error as { cause?: unknown }).cause ?? error
        if (cause instanceof FetchRefused || (error as Error).message.includes('private or reserved')) {
          throw new FetchRefused(`${(cause as Error).message} (set FLUXHOST_ALLOW_PRIVATE_URLS=1 to allow)`)
        }
        throw new FetchRefused(`could not connect: ${(cause as Error).message ?? 'network error'}`, true)
      }
    },

    /** The body of a 200 response, at most `maxBytes`. */
    async fetch(raw: string, signal?: AbortSignal): Promise<{ data: Buffer; contentType: string | undefined }> {
      const deadline = AbortSignal.timeout(policy.timeoutMs)
      const abort = signal ? AbortSignal.any([signal, deadline]) : deadline
      let url = check(raw)
      for (let hop = 0; ; hop++) {
        let response: Dispatcher.ResponseData
        try {
          response = await request(url, { dispatcher: agent, signal: abort, headers: { accept: 'image/*' } })
        } catch (error) {
          if (deadline.aborted) throw new FetchRefused(`no answer within ${policy.timeoutMs / 1000} s`)
          const cause = (error as { cause?: unknown }).cause ?? error
          if (cause instanceof FetchRefused || (error as Error).message.includes('private or reserved')) {
            throw new FetchRefused(`${(cause as Error).message} (set FLUXHOST_ALLOW_PRIVATE_URLS=1 to allow)`)
          }
          throw new FetchRefused(`could not connect: ${(cause as Error).message ?? 'network error'}`)
        }
        const { statusCode, headers, body } = response
        if (statusCode >= 300 && statusCode < 400 && headers.location) {
          await body.dump()
          if (hop >= policy.maxRedirects) throw new FetchRefused(`more than ${policy.maxRedirects} redirects`)
          url = check(new URL(String(headers.location), url).toString())
          continue
        }
        if (statusCode !== 200) {
          await body.dump()
          throw new FetchRefused(`the server answered HTTP ${statusCode}`)
        }
        const declared = Number(headers['content-length'])
        if (Number.isFinite(declared) && declared > policy.maxBytes) {
          discard(body)
          throw new FetchRefused(`the file is larger than ${policy.maxBytes / 1024 / 1024} MB`)
        }
        const chunks: Buffer[] = []
        let size = 0
        try {
          for await (const chunk of body) {
            size += (chunk as Buffer).length
            if (size > policy.maxBytes) {
              discard(body)
              throw new FetchRefused(`the file is larger than ${policy.maxBytes / 1024 / 1024} MB`)
            }
            chunks.push(chunk as Buffer)
          }
        } catch (error) {
          if (error instanceof FetchRefused) throw error
          if (deadline.aborted) throw new FetchRefused(`no complete answer within ${policy.timeoutMs / 1000} s`)
          throw new FetchRefused('the download broke off')
        }
        const type = headers['content-type']
        return { data: Buffer.concat(chunks), contentType: Array.isArray(type) ? type[0] : type }
      }
    },
    close: () => agent.close(),
  }
}

/**
 * Drop a response body we will not read. undici's BodyReadable emits an
 * AbortError when destroyed; without a listener that error would be uncaught.
 */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {})
  body.destroy()
}

export type Outbound = ReturnType<typeof createOutbound>
