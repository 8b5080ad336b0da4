import type { FluxhostError } from '../../domain/errors.js'

/** A field location as gateway APIs name fields: `fluxParams.width`, `query.id`. */
export function fieldName(loc: readonly (string | number)[]): string {
  const parts = loc[0] === 'body' ? loc.slice(1) : loc
  return parts.length === 0 ? 'body' : parts.join('.')
}

/**
 * The error body of the gateway-style APIs (SeaArt, Apiframe):
 * `{"error": {"code", "message", "details": [{"field", "message", "type"}]}, "request_id"}`.
 * Field problems are 400s, as those APIs answer them; other codes keep their status.
 */
export function renderGatewayError(error: FluxhostError, requestId: string): { status: number; body: unknown } {
  const isInput = error.code === 'VALIDATION_FAILED' || error.code === 'INVALID_JSON'
  return {
    status: isInput ? 400 : error.status,
    body: {
      error: {
        code: error.code,
        message: error.message,
        ...(error.issues.length > 0
          ? {
              details: error.issues.map((issue) => ({
                field: fieldName(issue.loc),
                message: issue.msg,
                type: issue.type,
              })),
            }
          : {}),
        ...(error.retryAfterS !== undefined ? { retry_after: error.retryAfterS } : {}),
      },
      request_id: requestId,
    },
  }
}

const errorBody = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', description: 'A code from docs/errors.md.' },
        message: { type: 'string' },
        details: {
          type: 'array',
          items: {
            type: 'object',
            properties: { field: { type: 'string' }, message: { type: 'string' }, type: { type: 'string' } },
          },
        },
        retry_after: { type: 'number' },
      },
    },
    request_id: { type: 'string' },
  },
} as const

export const gatewayErrorResponses = { 400: errorBody, 401: errorBody, 404: errorBody, 409: errorBody, 429: errorBody }
