import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { FluxhostError, validationError } from '../domain/errors.js'
import { setRateHeaders } from './limits.js'
import { ajvErrorsToIssues } from './validation.js'

/** Whatever was thrown, as a registry error. Unknown errors become INTERNAL_ERROR. */
export function toFluxhostError(error: unknown): FluxhostError {
  if (error instanceof FluxhostError) return error
  const e = error as Partial<FastifyError>
  if (e.validation) return validationError(ajvErrorsToIssues(e.validation as never, e.validationContext ?? 'body'))
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new FluxhostError('UNSUPPORTED_MEDIA_TYPE')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new FluxhostError('PAYLOAD_TOO_LARGE')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return validationError([{ loc: ['body'], msg: 'Field required', type: 'missing' }])
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return invalidJson('the body is not valid JSON')
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new FluxhostError('BAD_REQUEST', { message: e.message ?? 'The request is malformed.' })
  }
  return new FluxhostError('INTERNAL_ERROR', { cause: error })
}

export function invalidJson(reason: string): FluxhostError {
  return new FluxhostError('INVALID_JSON', {
    message: `The request body is not valid JSON: ${reason}`,
    issues: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid', ctx: { error: reason } }],
  })
}

/**
 * Builds a Fastify error handler that renders registry errors in one dialect's shape.
 * Server faults are logged with the request id; the client sees only the code.
 */
export function dialectErrorHandler(
  render: (error: FluxhostError, request: FastifyRequest) => { status: number; body: unknown },
) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const fx = toFluxhostError(error)
    if (fx.status >= 500) request.log.error({ err: fx.cause ?? error, code: fx.code }, 'request failed')
    if (fx.retryAfterS !== undefined) void reply.header('retry-after', String(fx.retryAfterS))
    if (fx.quota) setRateHeaders(reply, fx.quota)
    const { status, body } = render(fx, request)
    return reply.code(status).send(body)
  }
}
