import { webcrypto } from 'node:crypto'
import type { FastifyReply, FastifyRequest, onSendHookHandler, preValidationHookHandler } from 'fastify'
import { FluxhostError, validationError } from '../domain/errors.js'
import type { Hold, IdempotencyService } from '../services/idempotency.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set when the request holds an Idempotency-Key (see `idempotent`): its hold, the job it
     * made, and whether replays re-render from that job (then no answer bytes are kept).
     */
    idempotency: {
      hold: Hold
      service: IdempotencyService
      rerender: boolean
      /** A key the server derived (see `sdkRetries`): kept only while it names a job. */
      implicit?: boolean
      jobId?: string
      settled?: boolean
    } | null
  }
}

export interface IdempotencyOptions {
  service: IdempotencyService
  /** How long a request may hold its key before it is presumed dead (a crashed server). */
  lockMs: number
  /**
   * Renders the route's answer from the job a request with this key made: for a replay
   * whose first request made its job and died before answering (the job and the key's
   * binding are one transaction, so there is no crash after which a job has no key).
   */
  replayJob: (request: FastifyRequest, reply: FastifyReply, jobId: string) => Promise<unknown>
  /**
   * Replays always re-render from the job, and no answer bytes are kept: for the
   * synchronous route, whose answer holds expiring URLs and may not exist yet.
   */
  rerender?: boolean
  /**
   * Joins the retries a client's SDK marks as such (OpenAI's `x-stainless-retry-count`) to the
   * job of the try before, for requests without an Idempotency-Key (see `joinRetry`).
   */
  sdkRetries?: {
    /** The request's try (0: the first), undefined when it says none; throws on a malformed mark. */
    attemptOf(request: FastifyRequest): number | undefined
    /** How long after a try its job can be joined: the sync wait and the SDK's backoff. */
    windowMs: number
  }
}

const MAX_KEY_LENGTH = 255

/** Keys the server derives: a client's Idempotency-Key is printable ASCII, so none can collide. */
const RETRY_KEY_PREFIX = 'sdk-retry\u00b7'
/** The one holder of every derived key: identical first tries at once must not fail each other. */
const RETRY_HOLDER = 'sdk-retries'
/** Where Stainless-built SDKs (OpenAI's, in Node, browsers and Python) number their tries. */
export const SDK_RETRY_HEADER = 'x-stainless-retry-count'

/**
 * The key from `Idempotency-Key`: an RFC 8941 sf-string (`"…"`) as the draft specifies,
 * or, leniently, a bare token, as many clients send it.
 */
export function parseIdempotencyKey(raw: string | string[] | undefined): string | undefined {
  if (raw === undefined) return undefined
  const issue = (msg: string) =>
    validationError([
      {
        loc: ['header', 'idempotency-key'],
        msg,
        type: 'value_error',
        input: Array.isArray(raw) ? raw.join(', ').slice(0, 100) : raw.slice(0, 100),
      },
    ])
  if (Array.isArray(raw)) throw issue('Send one Idempotency-Key header, not several')
  const value = raw.trim()
  let key: string
  if (value.startsWith('"')) {
    const match = /^"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*)"$/.exec(value)
    if (!match) throw issue('Idempotency-Key must be a quoted string of printable ASCII ("…"), as in RFC 8941')
    key = match[1]!.replace(/\\(["\\])/g, '$1')
  } else {
    if (!/^[\x21-\x7E]+$/.test(value))
      throw issue('Idempotency-Key must be printable ASCII without spaces, or a quoted string')
    key = value
  }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH)
    throw issue(`Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters`)
  return key
}

/** A value still to be written, on `canonicalJson`'s stack (a bare string there is output). */
class Pending {
  constructor(readonly value: unknown) {}
}

/**
 * JSON with object keys sorted, so the same body fingerprints the same whatever its key
 * order. Iterative (an explicit stack): no recursion whose depth the client chooses. Strings
 * go through the native JSON.stringify, so a 25 MB base64 field costs one native call.
 */
export function canonicalJson(root: unknown, longStrings?: string[]): string {
  const out: string[] = []
  const stack: (string | Pending)[] = [new Pending(root)]
  while (stack.length > 0) {
    const item = stack.pop()!
    if (typeof item === 'string') {
      out.push(item)
      continue
    }
    const value = item.value
    if (Array.isArray(value)) {
      out.push('[')
      stack.push(']')
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push(new Pending(value[i]))
        if (i > 0) stack.push(',')
      }
    } else if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>
      const keys = Object.keys(record).sort()
      out.push('{')
      stack.push('}')
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push(new Pending(record[keys[i]!]))
        stack.push(`${JSON.stringify(keys[i])}:`)
        if (i > 0) stack.push(',')
      }
    } else if (longStrings && typeof value === 'string' && value.length > LONG_STRING) {
      // JSON never holds a raw control character, so this mark cannot be forged by a body.
      out.push(`\u0001${longStrings.push(value) - 1}\u0001`)
    } else {
      out.push(JSON.stringify(value) ?? 'null')
    }
  }
  return out.join('')
}

/** Strings longer than this (a base64 image) are hashed apart, not escaped into the canonical text. */
const LONG_STRING = 64 * 1024

const sha256 = async (text: string) =>
  Buffer.from(await webcrypto.subtle.digest('SHA-256', Buffer.from(text))).toString('base64url')

/**
 * The request's fingerprint: SHA-256 of its canonical form, with each long string (an
 * inline image) replaced by its own SHA-256. The hashing runs off the event loop (WebCrypto).
 */
async function fingerprint(request: FastifyRequest): Promise<string> {
  const simulate = request.headers['x-fluxhost-simulate'] ?? null
  const route = request.routeOptions.url ?? request.url
  const longStrings: string[] = []
  const text = canonicalJson({ method: request.method, route, body: request.body ?? null, simulate }, longStrings)
  if (longStrings.length === 0) return sha256(text)
  return sha256([text, ...(await Promise.all(longStrings.map(sha256)))].join('\n'))
}

/** Answers that are worth retrying are not kept: the client's retry runs afresh. */
// A 402 (a key's credits or budget) may pass after a top-up or in the next period: not kept either.
const isTransient = (status: number) => status >= 500 || status === 429 || status === 408 || status === 402

/** Keeps the request's answer for replays (called on send, or by a route that hijacks). */
export async function settleIdempotency(
  request: FastifyRequest,
  answer: { status: number; body: string | null; contentType: string | null },
): Promise<void> {
  const held = request.idempotency
  if (!held || held.settled) return
  held.settled = true
  if (held.jobId === undefined && (held.implicit || isTransient(answer.status))) {
    await held.service.release(held.hold)
    return
  }
  // A route that re-renders from its job needs no bytes (AIML's may hold megabytes of base64).
  const body = held.rerender && held.jobId !== undefined ? null : answer.body
  await held.service.complete(held.hold, { ...answer, body, jobId: held.jobId ?? null })
}

/**
 * Route hooks for `Idempotency-Key` on a create route (draft-ietf-httpapi-idempotency-key-header):
 * the key is scoped to the API key and kept `FLUXHOST_IDEMPOTENCY_TTL`; the same key with the same request
 * replays the first answer (no new job, no new charge) with `Idempotent-Replayed: true`; with
 * a different request → 422 IDEMPOTENCY_KEY_REUSED; while the first is still being answered
 * → 409 IDEMPOTENCY_KEY_IN_USE. Without the headers the hooks cost two property reads.
 */
export function idempotent(options: IdempotencyOptions): {
  preValidation: preValidationHookHandler
  onSend: onSendHookHandler
} {
  const { service } = options

  /** True when it has answered (a replay); throws the dialect's error otherwise. */
  const take = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    const key = parseIdempotencyKey(request.headers['idempotency-key'])
    if (key === undefined || request.apiKey === null) return false
    const { claim, hold } = await service.claim(request.apiKey.id, key, await fingerprint(request), options.lockMs)
    switch (claim.kind) {
      case 'acquired':
        request.idempotency = { hold, service, rerender: options.rerender === true }
        return false
      case 'mismatch':
        throw new FluxhostError('IDEMPOTENCY_KEY_REUSED')
      case 'in_flight': {
        // Its job is made (bound in the job's own transaction) and an async answer is derived
        // from the job: replay it now, whether the holder is still answering or has died.
        const jobId = claim.row?.job_id ?? null
        if (jobId === null || options.rerender) throw new FluxhostError('IDEMPOTENCY_KEY_IN_USE', { retryAfterS: 1 })
        void reply.header('idempotent-replayed', 'true')
        await options.replayJob(request, reply, jobId)
        return true
      }
      case 'done': {
        void reply.header('idempotent-replayed', 'true')
        const { row } = claim
        if (row.job_id !== null && (options.rerender || row.status === null))
          await options.replayJob(request, reply, row.job_id)
        else
          void reply
            .code(row.status ?? 200)
            .type(row.content_type ?? 'application/json; charset=utf-8')
            .send(row.body ?? '')
        return true
      }
    }
  }

  /**
   * A retry the SDK marks, with the same API key and body as a try before it (within
   * `windowMs`), joins that try's job: its answer is that job's, and no job is made. A first
   * try always makes its job and takes the derived key (several identical first tries at
   * once all take it, the newest job winning), so its retries find the job.
   */
  const joinRetry = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    const attempt = options.sdkRetries?.attemptOf(request)
    if (attempt === undefined || request.apiKey === null) return false
    const windowMs = options.sdkRetries!.windowMs
    const print = await fingerprint(request)
    const key = `${RETRY_KEY_PREFIX}${print}`
    const { claim, hold } = await service.claim(request.apiKey.id, key, print, options.lockMs, {
      ttlMs: windowMs,
      holder: RETRY_HOLDER,
      force: attempt === 0,
    })
    if (claim.kind === 'acquired') {
      request.idempotency = { hold, service, rerender: true, implicit: true }
      return false
    }
    const jobId = claim.kind === 'mismatch' ? null : (claim.row?.job_id ?? null)
    if (jobId === null)
      throw new FluxhostError('IDEMPOTENCY_KEY_IN_USE', {
        message: 'The try before this retry is still making its job; retry in a moment.',
        retryAfterS: 1,
      })
    await service.extend(hold.apiKeyId, key, windowMs)
    await options.replayJob(request, reply, jobId)
    return true
  }

  return {
    // Callback style: without the headers it is two property reads, not a promise.
    preValidation(request, reply, done) {
      const explicit = request.headers['idempotency-key'] !== undefined
      if (!explicit && (!options.sdkRetries || request.headers[SDK_RETRY_HEADER] === undefined)) return done()
      ;(explicit ? take : joinRetry)(request, reply).then(
        (answered) => {
          if (!answered) done()
        },
        (error: unknown) => done(error as Error),
      )
    },

    onSend(request, reply, payload, done) {
      if (!request.idempotency || request.idempotency.settled) return done(null, payload)
      const contentType = reply.getHeader('content-type')
      settleIdempotency(request, {
        status: reply.statusCode,
        body: typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : null,
        contentType: typeof contentType === 'string' ? contentType : null,
      }).then(
        () => done(null, payload),
        (error: unknown) => done(error as Error),
      )
    },
  }
}

/** The request's hold on its Idempotency-Key, for `jobs.create` to bind the job to in its transaction. */
export function keyHold(request: FastifyRequest): Hold | undefined {
  return request.idempotency?.hold
}

/** Records the job a request made (already bound to its key), so its answer is kept as that job's. */
export function noteJob(request: FastifyRequest, jobId: string): void {
  if (request.idempotency) request.idempotency.jobId = jobId
}

/** How long an async create may hold its key before it is presumed dead. */
export const CREATE_LOCK_MS = 60_000
