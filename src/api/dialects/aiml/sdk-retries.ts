import type { FastifyRequest } from 'fastify'
import { validationError } from '../../../domain/errors.js'
import { SDK_RETRY_HEADER } from '../../unanswered.js'

/**
 * The try an OpenAI SDK marks the request as: `x-stainless-retry-count` is "0" on the first
 * try, then "1", "2"… on its retries (Node, browser and Python builds alike). Undefined
 * without the header; a value that is not a small whole number is refused, naming it.
 */
export function sdkAttempt(request: FastifyRequest): number | undefined {
  const raw = request.headers[SDK_RETRY_HEADER]
  if (raw === undefined) return undefined
  if (typeof raw === 'string' && /^\s*\d{1,4}\s*$/.test(raw)) return Number(raw)
  throw validationError([
    {
      loc: ['header', SDK_RETRY_HEADER],
      msg: 'Input should be the number of the try, 0 on the first and 1, 2… on retries',
      type: 'int_parsing',
      input: Array.isArray(raw) ? raw.join(', ').slice(0, 40) : raw.slice(0, 40),
    },
  ])
}
