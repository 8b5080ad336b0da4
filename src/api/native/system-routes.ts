import { createHash, timingSafeEqual } from 'node:crypto'
import { FluxhostError } from '../../domain/errors.js'
import { formatUsd } from '../../domain/money.js'
import type { Usage, UsageTotals } from '../../services/system.js'
import { keyOf, requireKey } from '../auth.js'
import type { ApiDeps } from '../deps.js'
import { renderStanding, standingSchema } from '../limits.js'
import type { RoutesPlugin, SchemaTypes } from '../schema-types.js'

const totals = {
  type: 'object',
  properties: { usd: { type: 'string' }, images: { type: 'integer' }, jobs: { type: 'integer' } },
} as const

const show = (t: UsageTotals) => ({ usd: formatUsd(t.amountMicros), images: t.images, jobs: t.jobs })

/** Usage in the API's shape: money as decimal strings of US dollars. */
export function renderUsage(usage: Usage) {
  return {
    ...(usage.total ? { total: show(usage.total) } : {}),
    days: usage.days,
    window: show(usage.window),
    byModel: usage.byModel.map(({ model, ...t }) => ({ model, ...show(t) })),
    daily: usage.daily.map(({ day, model, ...t }) => ({ day, model, ...show(t) })),
  }
}

/** Models, health, usage and metrics. */
export const systemRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, metrics, worker } = deps

  app.get(
    '/api/models',
    {
      schema: {
        tags: ['System'],
        summary:
          'The models served, their limits, prices, and their engines ' +
          'with whether each is reachable (checked at most every 30 s)',
      },
    },
    async () => ({ data: await services.system.models() }),
  )

  app.get(
    '/api/health',
    {
      schema: {
        tags: ['System'],
        summary: 'Liveness and readiness',
        response: {
          '2xx': {
            type: 'object',
            properties: {
              status: { type: 'string', enum: ['ok', 'error'] },
              version: { type: 'string' },
              uptimeS: { type: 'number' },
              database: { type: 'string' },
              queueDepth: { type: ['integer', 'null'] },
              worker: {
                type: 'object',
                properties: {
                  enabled: { type: 'boolean' },
                  concurrency: { type: 'integer' },
                  running: { type: 'integer' },
                },
              },
            },
          },
          503: { type: 'object', additionalProperties: true },
        },
      },
    },
    async (_request, reply) => {
      const health = await services.system.health()
      return reply.code(health.ok ? 200 : 503).send({
        status: health.ok ? 'ok' : 'error',
        version: deps.version,
        uptimeS: Math.round((deps.clock.now() - deps.startedAt) / 1000),
        database: health.database,
        queueDepth: health.queueDepth,
        worker: { enabled: worker.enabled, concurrency: worker.concurrency, running: worker.running() },
      })
    },
  )

  // The routes about the caller's own key, in a scope that requires one.
  await app.register(async (scope) => {
    const scoped = scope.withTypeProvider<SchemaTypes>()
    scoped.addHook('onRequest', requireKey(services.keys))
    scoped.get(
      '/api/me',
      {
        schema: {
          tags: ['System'],
          security: [{ bearer: [] }, { apiKey: [] }],
          summary:
            'The key you called with: its id, name and scope (the web pages check a key with it), its limits, ' +
            'and where it stands against them',
          response: {
            200: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                name: { type: 'string' },
                scope: { type: 'string', enum: ['user', 'admin'] },
                prefix: { type: 'string' },
                createdAt: { type: 'string', format: 'date-time' },
                limits: standingSchema,
              },
            },
          },
        },
      },
      async (request) => {
        const key = keyOf(request)
        return {
          id: key.id,
          name: key.name,
          scope: key.scope,
          prefix: key.prefix,
          createdAt: key.createdAt.toISOString(),
          limits: renderStanding(await services.limits.standing(key.id)),
        }
      },
    )
    scoped.get(
      '/api/usage.csv',
      {
        schema: {
          tags: ['System'],
          security: [{ bearer: [] }, { apiKey: [] }],
          summary:
            'Usage as CSV: one row per UTC day, key and model (`day,key_id,key_name,model,jobs,images,usd`). ' +
            'Your key only; an admin key gets every key with `all=true`',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              days: { type: 'integer', minimum: 1, maximum: 366, default: 30 },
              all: { type: 'boolean', default: false },
            },
          },
        },
      },
      async (request, reply) => {
        const key = keyOf(request)
        if (request.query.all && key.scope !== 'admin')
          throw new FluxhostError('FORBIDDEN', { message: 'all=true needs an admin-scoped API key.' })
        const csv = await services.system.usageCsv(request.query.all ? undefined : key.id, request.query.days)
        const name = `fluxhost-usage-${new Date().toISOString().slice(0, 10)}.csv`
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${name}"`)
          .send(csv)
      },
    )
    scoped.get(
      '/api/usage',
      {
        schema: {
          tags: ['System'],
          security: [{ bearer: [] }, { apiKey: [] }],
          summary: 'What your key has been charged (succeeded jobs only), in total and per day and model',
          querystring: {
            type: 'object',
            properties: { days: { type: 'integer', minimum: 1, maximum: 366, default: 30 } },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                keyId: { type: 'string' },
                total: totals,
                days: { type: 'integer' },
                window: totals,
                byModel: {
                  type: 'array',
                  items: { type: 'object', properties: { model: { type: 'string' }, ...totals.properties } },
                },
                daily: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      day: { type: 'string', description: 'UTC date' },
                      model: { type: 'string' },
                      ...totals.properties,
                    },
                  },
                },
              },
            },
          },
        },
      },
      async (request) => ({
        keyId: keyOf(request).id,
        ...renderUsage(await services.system.usage(keyOf(request), request.query.days)),
      }),
    )
  })

  // Per-route traffic and queue figures: behind FLUXHOST_METRICS_TOKEN when it is set.
  const token = deps.config.http.metricsToken
  const expected = token === null ? null : createHash('sha256').update(token).digest()
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (expected !== null) {
      const sent = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1] ?? ''
      if (!timingSafeEqual(createHash('sha256').update(sent).digest(), expected)) {
        void reply.header('www-authenticate', 'Bearer realm="metrics"')
        throw new FluxhostError('UNAUTHORIZED', {
          message: 'GET /metrics needs Authorization: Bearer <FLUXHOST_METRICS_TOKEN>.',
        })
      }
    }
    const body = await metrics.registry.metrics()
    return reply.header('content-type', metrics.registry.contentType).send(body)
  })
}
