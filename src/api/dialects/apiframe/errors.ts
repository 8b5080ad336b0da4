import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FieldIssue, FluxhostError } from '../../../domain/errors.js'
import { type ModelId, modelByAlias } from '../../../domain/models.js'
import { usdToMicros } from '../../../domain/money.js'
import type { Services } from '../../../services/services.js'
import { dialectErrorHandler, toFluxhostError } from '../../errors.js'
import { spendable, UNLIMITED_CREDITS } from '../../limits.js'
import { toCredits } from './render.js'

/** A field's path as Apiframe's (Zod's) `details` keys it: `fluxParams.width`, `limit`, `header.idempotency-key`. */
export function detailKey(loc: readonly (string | number)[]): string {
  const parts = ['body', 'query', 'path'].includes(String(loc[0])) ? loc.slice(1) : loc
  // The body is an object: a number right under it is where in the text a limit was hit (json_too_deep).
  if (parts.length === 0 || (loc[0] === 'body' && typeof parts[0] === 'number')) return String(loc[0] ?? 'body')
  return parts.join('.')
}

/** Issues as `details`: every message of each field, by its path. */
export function detailsOf(issues: readonly FieldIssue[]): Record<string, string[]> {
  const details: Record<string, string[]> = {}
  for (const issue of issues) {
    const key = detailKey(issue.loc)
    // Own properties only: a field named `__proto__` or `constructor` is a key like any other.
    if (!Object.hasOwn(details, key)) Object.defineProperty(details, key, { value: [], enumerable: true })
    details[key]!.push(issue.msg)
  }
  return details
}

/** What a 402 says besides its message: the job's price and what the key may still spend, in credits. */
export interface CreditFigures {
  required: number
  available: number
}

const INPUT_CODES = new Set(['VALIDATION_FAILED', 'INVALID_JSON', 'BAD_REQUEST'])
const CREDIT_CODES = new Set(['CREDITS_EXHAUSTED', 'BUDGET_EXCEEDED', 'INSUFFICIENT_CREDITS'])

/**
 * A registry error in the envelopes of Apiframe's OpenAPI document: `ValidationError`
 * `{error, details}` for every 400 (fluxhost's 422 field errors included, as Apiframe answers
 * them), `InsufficientCredits` for 402, `{error}` for the rest. Each also carries fluxhost's
 * `code`. A reused Idempotency-Key is a 409, as Apiframe's SDK expects (ConflictError).
 */
export function renderApiframeError(error: FluxhostError, credits?: CreditFigures): { status: number; body: unknown } {
  if (INPUT_CODES.has(error.code)) {
    const details = detailsOf(error.issues)
    return {
      status: 400,
      body: { error: error.message, code: error.code, ...(error.issues.length > 0 ? { details } : {}) },
    }
  }
  if (CREDIT_CODES.has(error.code))
    return {
      status: 402,
      body: {
        error: 'Insufficient credits',
        creditsRequired: credits?.required ?? 0,
        creditsAvailable: credits?.available ?? 0,
        code: error.code,
        message: error.message,
      },
    }
  const status = error.code === 'IDEMPOTENCY_KEY_REUSED' ? 409 : error.status
  return { status, body: { error: error.message, code: error.code } }
}

/**
 * The Apiframe routes' error handler. A 402 looks up the figures its body needs (the price of
 * the model asked for, and what the key may spend); a 429 always says when to retry
 * (`Retry-After`, 1 s unless the error knows better), as the SDK waits exactly that long.
 */
export function apiframeErrorHandler(services: Services, pricesUsd: Readonly<Record<ModelId, number>>) {
  const figures = async (request: FastifyRequest): Promise<CreditFigures | undefined> => {
    if (request.apiKey === null) return undefined
    const asked = (request.body as { model?: unknown } | undefined)?.model
    const model = (typeof asked === 'string' && modelByAlias('apiframe', asked)) || 'flux-pro-1.1'
    const left = spendable(await services.limits.standing(request.apiKey.id))
    return {
      required: toCredits(usdToMicros(pricesUsd[model])),
      available: Math.floor(left ?? UNLIMITED_CREDITS),
    }
  }
  return async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const fx = toFluxhostError(error)
    if (fx.status === 429 && fx.retryAfterS === undefined) void reply.header('retry-after', '1')
    const credits = CREDIT_CODES.has(fx.code) ? await figures(request).catch(() => undefined) : undefined
    return dialectErrorHandler((e) => renderApiframeError(e, credits))(fx, request, reply)
  }
}
