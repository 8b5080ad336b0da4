import type { FastifyCorsOptions } from '@fastify/cors'
import type { CorsOrigins } from '../config/http-parsers.js'

/**
 * The paths a page on another origin may call: every dialect's API (BFL's and SeaArt's /v1,
 * AIML's /v1/images and /v1/models, Apiframe's /v2), fluxhost's own /api, and the signed
 * /files links (not the admin API: PRIVATE_PATHS). Never the playground and admin pages or
 * /docs: they hold no data of their own, and the pages' key lives in their own origin's storage.
 */
const API_PATHS = /^\/(?:v1|v2|api|files)(?:[/?]|$)/
/**
 * Never the admin API (keys, credits, limits) or a key's webhook secret: no browser client
 * needs them from another origin, and a script on an allowed origin that holds an admin key
 * should not reach them either.
 */
const PRIVATE_PATHS = /^\/api\/(?:admin|webhook-secret)(?:[/?]|$)/

/**
 * Whether the path is one CORS serves, as the router reads it: percent-decoded, so
 * `/api/%61dmin/keys` (which the router matches to the admin API) is private too. A path that
 * does not decode is served no CORS.
 */
function isApiPath(url: string): boolean {
  const query = url.indexOf('?')
  let path = query === -1 ? url : url.slice(0, query)
  // Decoded only when there is something to decode (most paths): this runs on every request.
  if (path.includes('%')) {
    try {
      path = decodeURIComponent(path)
    } catch {
      return false
    }
  }
  return API_PATHS.test(path) && !PRIVATE_PATHS.test(path)
}

/**
 * How long a browser may reuse a preflight's answer: Chromium keeps it at most 2 hours (Firefox
 * 24), so a page does one OPTIONS per route per 2 hours, not one per call.
 */
export const CORS_MAX_AGE_S = 7200

/**
 * Headers a page's script may read. RateLimit-* and Retry-After tell a client when to come back,
 * x-should-retry whether to (OpenAI's SDKs read it), x-request-id is what a bug report quotes.
 */
export const CORS_EXPOSED_HEADERS = [
  'x-request-id',
  'retry-after',
  'ratelimit',
  'ratelimit-policy',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'x-should-retry',
  'x-fluxhost-job-id',
  'idempotent-replayed',
  'content-disposition',
]

/**
 * @fastify/cors's options for FLUXHOST_CORS_ORIGINS: the listed origins (or any) on the API
 * paths, nothing elsewhere. No `allowedHeaders`: the headers a preflight asks for are allowed
 * as asked (x-key, authorization, x-api-key, idempotency-key, the OpenAI SDK's x-stainless-*,
 * and whatever a later SDK adds). Keys travel in headers, never in cookies, so credentials
 * mode stays off, and an allowed header lets a page send only what it could send anyway.
 */
export function corsOptions(origins: CorsOrigins): FastifyCorsOptions {
  const api: FastifyCorsOptions = {
    origin: origins === '*' ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: CORS_EXPOSED_HEADERS,
    credentials: false,
    maxAge: CORS_MAX_AGE_S,
    strictPreflight: true,
  }
  const off: FastifyCorsOptions = { origin: false }
  const listed = origins === '*' ? null : new Set(origins)
  // An origin not listed gets no CORS header at all (its preflight: 404), not a partial set.
  const allowed = (origin: string | undefined) => listed === null || (origin !== undefined && listed.has(origin))
  return {
    // A two-argument delegator: @fastify/cors calls it back without a promise per request.
    delegator: (request, callback) =>
      callback(null, isApiPath(request.url) && allowed(request.headers.origin) ? api : off),
  }
}
