import type { FastifyReply, FastifyRequest, onSendHookHandler, preValidationHookHandler } from 'fastify'
import { FluxhostError, validationError } from '../domain/errors.js'
import type { Hold, IdempotencyService } from '../services/idempotency.js'
import { fingerprint } from './fingerprint.js'
import { joinUnanswered, type SdkRetries } from './unanswered.js'

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
   * Retries of a call without an Idempotency-Key (OpenAI's SDKs send none) join the job of the
   * try before when that try's answer never reached the client (see `joinUnanswered`).
   */
  sdkRetries?: SdkRetries
}

const MAX_KEY_LENGTH = 255

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
  if (isTransient(answer.status) && held.jobId === undefined) {
    await held.service.release(held.hold)
    return
  }
  // A route that re-renders from its job needs no bytes (AIML's may hold megabytes of base64).
  const body = held.rerender && held.jobId !== undefined ? null : answer.body
  await held.service.complete(held.hold, { ...answer, body, jobId: held.jobId ?? null })
}

/** Lets go of the request's key without an answer (its client left before a job was made). */
export async function abandonIdempotency(request: FastifyRequest): Promise<void> {
  const held = request.idempotency
  if (!held || held.settled) return
  held.settled = true
  await held.service.release(held.hold)
}

/**
 * Route hooks for `Idempotency-Key` on a create route (draft-ietf-httpapi-idempotency-key-header):
 * the key is scoped to the API key and kept `FLUXHOST_IDEMPOTENCY_TTL`; the same key with the same request
 * replays the first answer (no new job, no new charge) with `Idempotent-Replayed: true`; with
 * a different request → 422 IDEMPOTENCY_KEY_REUSED; while the first is still being answered
 * → 409 IDEMPOTENCY_KEY_IN_USE. Without the header the hooks cost one property read (on a route
 * with `sdkRetries`, the request's fingerprint and a lookup: see `joinUnanswered`).
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

  return {
    // Callback style: without the header (on a route without sdkRetries) it is one property read, not a promise.
    preValidation(request, reply, done) {
      const explicit = request.headers['idempotency-key'] !== undefined
      if (!explicit && !options.sdkRetries) return done()
      ;(explicit
        ? take(request, reply)
        : joinUnanswered(request, reply, options.sdkRetries!, service, options.replayJob)
      ).then(
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
