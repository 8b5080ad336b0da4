import { randomUUID } from 'node:crypto'
import cors from '@fastify/cors'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify'
import type { Logger } from 'pino'
import { FluxhostError } from '../domain/errors.js'
import { redactUrl } from '../observability/redact.js'
import { webRoutes } from '../web/routes.js'
import { requireKey } from './auth.js'
import { corsOptions } from './cors.js'
import type { ApiDeps } from './deps.js'
import { renderOpenAiNotFound } from './dialects/aiml/render.js'
import { aimlRoutes } from './dialects/aiml/routes.js'
import { apiframeRoutes } from './dialects/apiframe/routes.js'
import { bflRoutes } from './dialects/bfl/routes.js'
import { seaartRoutes } from './dialects/seaart/routes.js'
import { engineHookRoutes } from './engine-hook-routes.js'
import { dialectErrorHandler } from './errors.js'
import { fileRoutes } from './file-routes.js'
import { installJsonParser } from './json-body.js'
import { SMALL_BODY_LIMIT } from './json-limits.js'
import { setRateHeaders } from './limits.js'
import { adminRoutes } from './native/admin-routes.js'
import { eventRoutes, keyEventRoutes } from './native/event-routes.js'
import { jobRoutes } from './native/job-routes.js'
import { renderNativeError } from './native/render.js'
import { systemRoutes } from './native/system-routes.js'
import { webhookRoutes } from './native/webhook-routes.js'
import { proxyTrust } from './urls.js'
import { installValidators } from './validation.js'

/** fluxhost's own job API (`/api/jobs…`): every route needs a key. */
const nativeJobApi: FastifyPluginAsync<ApiDeps> = async (scope, deps) => {
  scope.addHook('onRequest', requireKey(deps.services.keys))
  await scope.register(jobRoutes, deps)
  await scope.register(eventRoutes, deps)
  await scope.register(keyEventRoutes, deps)
  await scope.register(webhookRoutes, deps)
}

/** Builds the HTTP app; it does not listen. */
export async function buildApp(deps: ApiDeps, logger: Logger): Promise<FastifyInstance> {
  const trustProxy = proxyTrust(deps.config.http.trustProxy)
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Our own ids, never the client's: a request id in a log line must be trustworthy.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Small unless a route takes an inline image (those set FLUXHOST_BODY_LIMIT themselves).
    bodyLimit: Math.min(SMALL_BODY_LIMIT, deps.config.bodyLimitBytes),
    // One line per request, written below with the fields we want, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Bounded waits on clients (a trickling body holds a socket at most this long); answers
    // that take long (the sync route, event streams) are not limited by these.
    requestTimeout: deps.config.http.requestTimeoutMs,
    keepAliveTimeout: deps.config.http.idleTimeoutMs,
    trustProxy,
    // Node checks those limits every connectionsCheckingInterval (30 s by default).
    http: {
      headersTimeout: deps.config.http.headersTimeoutMs,
      requestTimeout: deps.config.http.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, deps.config.http.headersTimeoutMs),
    },
  })
  app.decorate('originPolicy', {
    trustProxy,
    allowedHosts: deps.config.http.allowedHosts,
  })
  // Per-request state starts as null on every request (one object shape for V8), and the
  // hooks fill it in: Fastify's decorateRequest, not properties added in hooks.
  app.decorateRequest('apiKey', null)
  app.decorateRequest('idempotency', null)
  app.decorateRequest('rateQuota', null)
  installValidators(app)
  installJsonParser(app)

  // Callback-style hooks: they run on every request, and async ones cost a promise each.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id)
    // Every answer, page or JSON, is what its content-type says.
    void reply.header('x-content-type-options', 'nosniff')
    done()
  })
  app.addHook('onSend', (request, reply, _payload, done) => {
    if (request.rateQuota) setRateHeaders(reply, request.rateQuota)
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    deps.metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
    const level = reply.statusCode >= 500 ? 'error' : 'info'
    // The line (and its redacted URL) is built only when it will be written.
    if (logger.isLevelEnabled(level))
      request.log[level](
        {
          method: request.method,
          url: redactUrl(request.url),
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
        },
        'request',
      )
    done()
  })
  // CORS for pages on other origins (FLUXHOST_CORS_ORIGINS), on the API paths only (api/cors.ts).
  // A root hook registered before every route, so preflights, 401s and 404s carry it too.
  if (deps.config.http.corsOrigins) await app.register(cors, corsOptions(deps.config.http.corsOrigins))

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'fluxhost',
        version: deps.version,
        description:
          'Self-hosted FLUX 1.1 [pro] image generation. ' +
          "Black Forest Labs' API under /v1, fluxhost's own API under /api. Errors: see docs/errors.md.",
      },
      components: {
        securitySchemes: {
          xKey: { type: 'apiKey', in: 'header', name: 'x-key' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
    },
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // Same origin as the playground, whose key is in localStorage: a CSP with hashes of
    // Swagger UI's own scripts, framing refused, and nothing upgraded to https on plain http.
    staticCSP: true,
    transformStaticCSP: (header) =>
      header
        .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
        .replace(' validator.swagger.io', '')
        .replace(' upgrade-insecure-requests;', ''),
    uiConfig: { validatorUrl: null },
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  const native = dialectErrorHandler((error, request) => renderNativeError(error, request.id))
  app.setErrorHandler(native)
  app.setNotFoundHandler((request, reply) => {
    // BFL clients expect FastAPI's 404 body, OpenAI's (a Bearer key) OpenAI's; everyone else gets ours.
    if (request.url.startsWith('/v1/')) {
      if (!/^\s*Bearer\s/i.test(request.headers.authorization ?? ''))
        return reply.code(404).send({ detail: 'Not Found' })
      const { status, body } = renderOpenAiNotFound(request.method, request.url.split('?')[0]!)
      return reply.code(status).send(body)
    }
    const message = `No route ${request.method} ${request.url.split('?')[0]}`
    // Apiframe's SDK reads a message only from `{"error": "<string>"}`.
    if (request.url.startsWith('/v2/')) return reply.code(404).send({ error: message, code: 'NOT_FOUND' })
    const { status, body } = renderNativeError(new FluxhostError('NOT_FOUND', { message }), request.id)
    return reply.code(status).send(body)
  })

  // Each dialect is a plugin in a context of its own: its auth hook and its error handler
  // (its vendor's error shape) apply to its routes only.
  await app.register(bflRoutes, deps)
  await app.register(seaartRoutes, deps)
  await app.register(apiframeRoutes, deps)
  await app.register(aimlRoutes, deps)
  await app.register(nativeJobApi, deps)
  await app.register(systemRoutes, deps)
  await app.register(adminRoutes, deps)
  await app.register(fileRoutes, deps)
  await app.register(engineHookRoutes, deps)
  await app.register(webRoutes)
  return app
}
