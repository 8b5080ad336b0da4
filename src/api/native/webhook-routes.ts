import type { Delivery } from '../../services/webhooks.js'
import { keyOf } from '../auth.js'
import type { ApiDeps } from '../deps.js'
import type { RoutesPlugin } from '../schema-types.js'
import { errorResponse, jobIdParams } from './schemas.js'

const attemptSchema = {
  type: 'object',
  properties: {
    attempt: { type: 'integer' },
    at: { type: 'string' },
    latencyMs: { type: 'integer' },
    status: {
      type: ['integer', 'null'],
      description: "The receiver's HTTP status; null when it gave none (timeout, refused).",
    },
    error: { type: ['string', 'null'] },
    outcome: { type: 'string', enum: ['delivered', 'retry', 'failed', 'stopped'] },
  },
} as const

const deliverySchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'The `webhook-id` header: the same on every attempt.' },
    event: {
      type: 'string',
      description: "`job`: the job's webhook; `key.budget.threshold`: a budget alert that the job's charge set off.",
    },
    jobId: { type: 'string' },
    url: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'delivering', 'delivered', 'failed', 'stopped'] },
    attempts: { type: 'array', items: attemptSchema },
    nextAttemptAt: { type: ['string', 'null'] },
    lastStatus: { type: ['integer', 'null'] },
    lastError: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    finishedAt: { type: ['string', 'null'] },
  },
} as const

export function renderDelivery(delivery: Delivery) {
  return {
    ...delivery,
    attempts: delivery.attempts.map((a) => ({ ...a, at: a.at.toISOString() })),
    nextAttemptAt: delivery.nextAttemptAt?.toISOString() ?? null,
    createdAt: delivery.createdAt.toISOString(),
    finishedAt: delivery.finishedAt?.toISOString() ?? null,
  }
}

/** Webhook deliveries of the caller's jobs, redelivery, and the key's signing secret. */
export const webhookRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services } = deps
  const tags = ['Webhooks']
  const security: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }]
  const errors = { 401: errorResponse, 404: errorResponse, 409: errorResponse }
  const deliveryParams = {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
  } as const

  app.get(
    '/api/jobs/:id/deliveries',
    {
      schema: {
        tags,
        security,
        summary: 'The webhook deliveries of a job, with every attempt',
        params: jobIdParams,
        response: {
          200: { type: 'object', properties: { data: { type: 'array', items: deliverySchema } } },
          ...errors,
        },
      },
    },
    async (request) => ({
      data: (await services.webhooks.listForJob(request.params.id, keyOf(request))).map(renderDelivery),
    }),
  )

  app.get(
    '/api/deliveries/:id',
    {
      schema: {
        tags,
        security,
        summary: 'One webhook delivery',
        params: deliveryParams,
        response: { 200: deliverySchema, ...errors },
      },
    },
    async (request) => renderDelivery(await services.webhooks.get(request.params.id, keyOf(request))),
  )

  app.post(
    '/api/deliveries/:id/redeliver',
    {
      schema: {
        tags,
        security,
        summary: 'Send a finished delivery again (same webhook-id, a fresh retry schedule)',
        params: deliveryParams,
        response: { 202: deliverySchema, ...errors },
      },
    },
    async (request, reply) =>
      reply.code(202).send(renderDelivery(await services.webhooks.redeliver(request.params.id, keyOf(request)))),
  )

  app.get(
    '/api/webhook-secret',
    {
      schema: {
        tags,
        security,
        summary: "Your key's webhook signing secret (Standard Webhooks, whsec_…)",
        response: {
          200: { type: 'object', properties: { keyId: { type: 'string' }, secret: { type: 'string' } } },
          ...errors,
        },
      },
    },
    async (request) => ({ keyId: keyOf(request).id, secret: await services.keys.webhookSecret(keyOf(request).id) }),
  )
}
