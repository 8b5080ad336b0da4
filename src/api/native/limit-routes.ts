import type { FastifyRequest } from 'fastify'
import { validationError } from '../../domain/errors.js'
import type { LimitSetting } from '../../domain/limits.js'
import { MICROS_PER_CREDIT, usdToMicros } from '../../domain/money.js'
import type { LimitChange } from '../../services/limits.js'
import { keyOf } from '../auth.js'
import type { ApiDeps } from '../deps.js'
import { renderLedgerEntry, renderStanding, standingSchema } from '../limits.js'
import type { RoutesPlugin } from '../schema-types.js'
import { idParams, security, tags } from './admin-scope.js'

const setting = {
  anyOf: [
    { type: 'integer', minimum: 0, maximum: 1_000_000_000 },
    { type: 'string', enum: ['none', 'default'] },
  ],
} as const
const limitsBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    webhookUrl: {
      type: ['string', 'null'],
      format: 'uri',
      maxLength: 2083,
      description: "Where the key's own events go (budget alerts), signed with its webhook secret; null: nowhere.",
    },
    concurrency: { ...setting, description: 'Jobs queued or running at once; "none"; "default" (the server\'s).' },
    rpm: { ...setting, description: 'Creates per minute; "none"; "default".' },
    budget: {
      description: 'US dollars per UTC day, week or month; "none"; "default".',
      anyOf: [
        {
          type: 'object',
          required: ['usd', 'period'],
          additionalProperties: false,
          properties: {
            usd: { type: 'number', minimum: 0, maximum: 1_000_000_000 },
            period: { type: 'string', enum: ['day', 'week', 'month'] },
          },
        },
        { type: 'string', enum: ['none', 'default'] },
      ],
    },
  },
} as const
const creditsBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    add: { type: 'number', minimum: -1e9, maximum: 1e9, description: 'Credits to add (1 credit = $0.01).' },
    set: {
      type: ['number', 'null'],
      minimum: 0,
      maximum: 1e9,
      description: 'The balance to set, in credits; null removes it (the key is no longer limited by credits).',
    },
    note: { type: 'string', maxLength: 500 },
  },
} as const

/** Who made a change over the API: the admin key, by id and name. */
const actorOf = (request: FastifyRequest) => {
  const key = keyOf(request)
  return `key:${key.id} (${key.name})`
}

/** Credits as micro-dollars, whole. */
const creditMicros = (credits: number) => Math.round(credits * MICROS_PER_CREDIT)

/**
 * Per-key limits for admins: read and change a key's concurrency, rate, budget and prepaid
 * credits, and its credit ledger (who added what, when). Registered inside the admin routes,
 * whose hooks let only admin keys through.
 */
export const limitRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services } = deps

  app.get(
    '/api/admin/keys/:id/limits',
    {
      schema: {
        tags,
        security,
        summary: "A key's limits and where it stands against them",
        params: idParams,
        response: { 200: standingSchema },
      },
    },
    async (request) => renderStanding(await services.limits.standing(request.params.id)),
  )

  app.patch(
    '/api/admin/keys/:id/limits',
    {
      schema: {
        tags,
        security,
        summary:
          'Change a key\'s limits: fields left out stay as they are; a number sets one, "none" removes it, ' +
          '"default" takes the server\'s (FLUXHOST_KEY_*)',
        params: idParams,
        body: limitsBody,
        response: { 200: standingSchema },
      },
    },
    async (request) => {
      const body = request.body
      const change: LimitChange = {}
      if (body.webhookUrl !== undefined) change.eventWebhookUrl = body.webhookUrl
      if (body.concurrency !== undefined) change.concurrency = body.concurrency as LimitSetting
      if (body.rpm !== undefined) change.rpm = body.rpm as LimitSetting
      if (typeof body.budget === 'string') change.budget = body.budget
      else if (body.budget !== undefined) {
        change.budget = usdToMicros(body.budget.usd)
        change.budgetPeriod = body.budget.period
      }
      return renderStanding(await services.limits.set(request.params.id, change))
    },
  )

  app.post(
    '/api/admin/keys/:id/credits',
    {
      schema: {
        tags,
        security,
        summary:
          "Top up a key's prepaid credits (`add`), or set the balance (`set`; null: no balance): recorded in " +
          'the ledger with the admin key and the time',
        params: idParams,
        body: creditsBody,
        response: { 200: standingSchema },
      },
    },
    async (request) => {
      const { add, set, note } = request.body
      if ((add === undefined) === (set === undefined))
        throw validationError([
          { loc: ['body'], msg: 'Give exactly one of add and set', type: 'value_error', input: request.body },
        ])
      const entry =
        add !== undefined
          ? { kind: 'topup' as const, micros: creditMicros(add) }
          : { kind: 'set' as const, micros: set === null || set === undefined ? null : creditMicros(set) }
      return renderStanding(
        await services.limits.credit(request.params.id, {
          ...entry,
          actor: actorOf(request),
          ...(note === undefined ? {} : { note }),
        }),
      )
    },
  )

  app.get(
    '/api/admin/keys/:id/ledger',
    {
      schema: {
        tags,
        security,
        summary: "A key's credit ledger, newest first: top-ups and balances set, by whom and when",
        params: idParams,
      },
    },
    async (request) => {
      const rows = await services.limits.ledger(request.params.id)
      return { data: rows.map(renderLedgerEntry) }
    },
  )
}
