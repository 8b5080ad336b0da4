import { getModel, MODEL_IDS } from '../../../domain/models.js'
import { microsToCredits, usdToMicros } from '../../../domain/money.js'
import { keyOf } from '../../auth.js'
import type { ApiDeps } from '../../deps.js'
import { spendable, UNLIMITED_CREDITS } from '../../limits.js'
import type { RoutesPlugin } from '../../schema-types.js'
import { errorResponses, meSchema, modelCatalogSchema, security, tags } from './responses.js'
import { modelsQuery } from './schemas.js'

/**
 * `GET /v2/me`: fluxhost has no users or teams, only API keys, so all three are the calling key:
 * `user` (no email; role ADMIN or MEMBER by the key's scope), `team` (its credits: what it may
 * still spend, as BFL's `GET /v1/credits` counts them), `apiKey`.
 */
export const accountRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services } = deps
  app.get(
    '/v2/me',
    {
      schema: {
        tags,
        security,
        summary: 'The calling key, as user, team (its credits) and apiKey',
        response: { 200: meSchema, ...errorResponses },
      },
    },
    async (request) => {
      const key = keyOf(request)
      const left = spendable(await services.limits.standing(key.id))
      return {
        user: { id: key.id, email: null, role: key.scope === 'admin' ? 'ADMIN' : 'MEMBER' },
        team: {
          id: key.id,
          name: key.name,
          credits: left === null ? UNLIMITED_CREDITS : Math.floor(left),
          ...(left === null ? { unlimited: true } : {}),
          plan: 'self-hosted',
          customerId: null,
        },
        apiKey: { id: key.id, name: key.name, prefix: key.prefix },
      }
    },
  )
}

/** `GET /v2/models`, public: the models `POST /v2/images/generate` takes, priced per image in credits. */
export const catalogRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { pricesUsd } = deps.config
  app.get(
    '/v2/models',
    {
      schema: {
        tags,
        security: [],
        summary: 'The models served (no key needed): id, label, price per image in credits (1 = $0.01)',
        querystring: modelsQuery,
        response: { 200: modelCatalogSchema, 400: errorResponses[400] },
      },
    },
    async (request) => {
      const modality = request.query.modality ?? 'image'
      if (modality !== 'image') return { models: [] }
      return {
        models: MODEL_IDS.flatMap((id) => {
          const model = getModel(id)
          const alias = model.aliases.apiframe
          if (alias === undefined) return []
          const cost = microsToCredits(usdToMicros(pricesUsd[id]))
          return [
            {
              id: alias,
              label: model.name,
              modality: 'image' as const,
              description: `${model.name} by Black Forest Labs, served by fluxhost.`,
              costMin: cost,
              costMax: cost,
              pricingMode: 'per-output' as const,
            },
          ]
        }),
      }
    },
  )
}
