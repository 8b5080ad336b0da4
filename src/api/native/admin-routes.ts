import type { ApiKey } from '../../domain/api-key.js'
import { FluxhostError } from '../../domain/errors.js'
import type { Job } from '../../domain/job.js'
import { formatUsd } from '../../domain/money.js'
import type { UsageTotals } from '../../services/system.js'
import { requireKey } from '../auth.js'
import type { ApiDeps } from '../deps.js'
import { renderStanding } from '../limits.js'
import type { RoutesPlugin } from '../schema-types.js'
import { urlContext } from '../urls.js'
import { adminJobRoutes, renderAdminJob } from './admin-job-routes.js'
import { idParams, requireAdmin, security, tags } from './admin-scope.js'
import { limitRoutes } from './limit-routes.js'
import { renderDelivery } from './webhook-routes.js'

const show = (t: UsageTotals) => ({ usd: formatUsd(t.amountMicros), images: t.images, jobs: t.jobs })
const iso = (date: Date | null) => (date === null ? null : date.toISOString())

export function renderKey(key: ApiKey) {
  return {
    id: key.id,
    name: key.name,
    scope: key.scope,
    source: key.source,
    prefix: key.prefix,
    createdAt: iso(key.createdAt),
    revokedAt: iso(key.revokedAt),
    lastUsedAt: iso(key.lastUsedAt),
  }
}

/**
 * What the admin pages use (admin-scoped keys only): every key with its spend, creating and
 * revoking keys, rotating a key's webhook secret, spend per day, the queue, every key's
 * webhook deliveries, and how the engines are doing.
 */
export const adminRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer } = deps
  app.addHook('onRequest', requireKey(services.keys))
  app.addHook('onRequest', requireAdmin)
  // Per-key limits, credits and the ledger: in this scope, behind the same two hooks.
  await app.register(limitRoutes, deps)
  // Any key's job (read, cancel): the same two hooks.
  await app.register(adminJobRoutes, deps)

  app.get(
    '/api/admin/keys',
    {
      schema: {
        tags,
        security,
        summary: 'Every API key, with what it has been charged (all time and the last 30 days) and its limits',
      },
    },
    async () => ({
      data: await Promise.all(
        (await services.admin.keys()).map(async (key) => ({
          ...renderKey(key),
          usage: { total: show(key.usage.total), last30Days: show(key.usage.last30Days) },
          limits: renderStanding(await services.limits.standing(key.id)),
        })),
      ),
    }),
  )

  app.post(
    '/api/admin/keys',
    {
      schema: {
        tags,
        security,
        summary: 'Create a key; the response is the only time its secret is shown',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            scope: { type: 'string', enum: ['user', 'admin'], default: 'user' },
          },
        },
      },
    },
    async (request, reply) => {
      const { key, apiKey } = await services.keys.create(request.body.name, request.body.scope)
      return reply.code(201).send({ key, apiKey: renderKey(apiKey) })
    },
  )

  app.post(
    '/api/admin/keys/:id/revoke',
    {
      schema: {
        tags,
        security,
        summary:
          'Revoke a key: it stops working at once (within a second in other processes) and its queued and ' +
          'running jobs are canceled, not charged. 409 LAST_ADMIN_KEY for the last active admin key',
        params: idParams,
      },
    },
    async (request) => {
      const { apiKey, canceledJobs } = await services.keys.revoke(request.params.id)
      return { ...renderKey(apiKey), canceledJobs: canceledJobs.length }
    },
  )

  app.post(
    '/api/admin/keys/:id/webhook-secret',
    {
      schema: {
        tags,
        security,
        summary: "Rotate a key's webhook signing secret; returns the new one",
        params: idParams,
      },
    },
    async (request) => {
      const key = (await services.keys.list()).find((k) => k.id === request.params.id)
      if (!key || key.revokedAt) throw new FluxhostError('KEY_NOT_FOUND')
      return { keyId: key.id, secret: await services.keys.webhookSecret(key.id, { rotate: true }) }
    },
  )

  app.get(
    '/api/admin/usage',
    {
      schema: {
        tags,
        security,
        summary: 'Spend per UTC day (every key, or one), empty days included, and per engine with its margin',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            days: { type: 'integer', minimum: 1, maximum: 366, default: 30 },
            keyId: { type: 'string', maxLength: 64 },
          },
        },
      },
    },
    async (request) => {
      const [daily, byEngine] = await Promise.all([
        services.admin.spendPerDay(request.query.keyId, request.query.days),
        services.admin.spendByEngine(request.query.keyId, request.query.days),
      ])
      return {
        keyId: request.query.keyId ?? null,
        days: request.query.days,
        daily: daily.map(({ day, ...t }) => ({ day, ...show(t) })),
        // What keys paid per engine, what its provider charged, and the margin where that is known.
        byEngine: byEngine.map((e) => ({
          engine: e.engine,
          ...show(e),
          pricedJobs: e.pricedJobs,
          upstreamUsd: formatUsd(e.upstreamMicros),
          marginUsd: formatUsd(e.marginMicros),
        })),
      }
    },
  )

  app.get(
    '/api/admin/queue',
    {
      schema: {
        tags,
        security,
        summary:
          'Queue depth, jobs by state, waiting and running jobs and the latest failures with their errors, ' +
          'each job with the key it belongs to',
      },
    },
    async (request) => {
      const urls = urlContext(request, config.publicUrl, signer)
      const [queue, names] = await Promise.all([services.admin.queue(), services.admin.keyNames()])
      const render = (job: Job) => renderAdminJob(job, urls, names)
      return {
        depth: queue.depth,
        counts: queue.counts,
        queued: queue.queued.map(render),
        running: queue.running.map(render),
        recentFailures: queue.recentFailures.map(render),
      }
    },
  )

  app.get(
    '/api/admin/deliveries',
    {
      schema: {
        tags,
        security,
        summary: 'The newest webhook deliveries of every key, with their attempts',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: ['pending', 'delivering', 'delivered', 'failed', 'stopped'] },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
        },
      },
    },
    async (request) => ({
      data: (await services.webhooks.recent({ state: request.query.state, limit: request.query.limit })).map(
        renderDelivery,
      ),
    }),
  )

  app.post(
    '/api/admin/deliveries/:id/redeliver',
    { schema: { tags, security, summary: "Send any key's finished delivery again", params: idParams } },
    async (request, reply) =>
      reply.code(202).send(renderDelivery(await services.webhooks.redeliver(request.params.id, undefined))),
  )

  app.get(
    '/api/admin/engines',
    {
      schema: {
        tags,
        security,
        summary: "Each model's engines and whether they answer, and each engine's recent start-to-finish times",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { fresh: { type: 'boolean', default: false } },
        },
      },
    },
    async (request) => {
      const [models, latency] = await Promise.all([
        services.system.models({ fresh: request.query.fresh }),
        services.admin.engineLatency(),
      ])
      return {
        models: models.map((m) => ({ id: m.id, name: m.name, policy: m.policy, engines: m.engineStatus })),
        latency: latency.map((l) => ({ ...l, lastAt: l.lastAt.toISOString() })),
      }
    },
  )
}
