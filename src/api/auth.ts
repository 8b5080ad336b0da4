import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ApiKey } from '../domain/api-key.js'
import { FluxhostError } from '../domain/errors.js'
import type { KeyService } from '../services/keys.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The caller's key, once `requireKey` has checked it; null before (and on routes that
     * take none). Read it with `keyOf`, never directly: services treat a missing key as the
     * operator's, so a null must not reach them as "no key".
     */
    apiKey: ApiKey | null
  }
}

/** The request's checked key; UNAUTHORIZED if the route forgot `requireKey`. */
export function keyOf(request: FastifyRequest): ApiKey {
  if (request.apiKey === null) throw new FluxhostError('UNAUTHORIZED', { message: 'This route needs an API key.' })
  return request.apiKey
}

/** The key a request carries: `Authorization: Bearer`, `X-API-Key` or BFL's `x-key`. */
export function keyFromHeaders(headers: FastifyRequest['headers']): string | undefined {
  const authorization = headers.authorization
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim())
    if (match) return match[1]
  }
  for (const name of ['x-api-key', 'x-key'] as const) {
    const value = headers[name]
    if (typeof value === 'string' && value.trim() !== '') return value.trim()
  }
  return undefined
}

const missing = () =>
  new FluxhostError('UNAUTHORIZED', {
    message: 'Missing API key: send it as Authorization: Bearer <key>, X-API-Key or x-key.',
  })
const invalid = () => new FluxhostError('UNAUTHORIZED', { message: 'Invalid or revoked API key.' })

/**
 * An onRequest hook: runs before the body is read, so unauthenticated uploads cost nothing.
 * Callback style, and synchronous when the key's verdict is cached: this runs on every
 * request, and a promise per request is measurable.
 */
export function requireKey(keys: KeyService) {
  return (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const presented = keyFromHeaders(request.headers)
    if (presented === undefined) return done(missing())
    const hit = keys.cached(presented)
    if (hit) {
      request.apiKey = hit
      return done()
    }
    if (hit === null) return done(invalid())
    keys.authenticate(presented).then((apiKey) => {
      if (!apiKey) return done(invalid())
      request.apiKey = apiKey
      done()
    }, done)
  }
}
