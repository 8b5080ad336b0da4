import type { FastifyInstance } from 'fastify'
import { FluxhostError } from '../../../domain/errors.js'
import { getModel, MODEL_IDS, type ModelId } from '../../../domain/models.js'
import { modelResponse, modelsResponse } from './schemas.js'

/** When each model was released (Unix seconds), as OpenAI's `created`. */
const RELEASED: Record<ModelId, number> = {
  'flux-pro-1.1': 1_727_827_200, // 2024-10-02
  'flux-pro-1.1-ultra': 1_731_024_000, // 2024-11-08
  'flux-dev': 1_722_470_400, // 2024-08-01
}

/** The models this route serves, by the names it takes (`flux-pro/v1.1`), in OpenAI's shape. */
const served = () =>
  MODEL_IDS.flatMap((id) => {
    const name = getModel(id).aliases.aiml
    return name ? [{ id: name, object: 'model', created: RELEASED[id], owned_by: 'black-forest-labs' }] : []
  })

/**
 * OpenAI's `GET /v1/models` and `GET /v1/models/{id}`, which tools call to check a key and
 * find the models (`client.models.list()`). The id holds a slash: OpenAI's current SDKs send
 * it encoded (`flux-pro%2Fv1.1`), older ones as is, so the route takes the rest of the path.
 */
export function registerModelRoutes(app: FastifyInstance): void {
  app.get(
    '/v1/models',
    {
      schema: {
        tags: ['AIML / OpenAI images'],
        security: [{ bearer: [] }],
        summary: 'The models /v1/images/generations serves (OpenAI)',
        response: modelsResponse,
      },
    },
    async () => ({ object: 'list', data: served() }),
  )

  app.get(
    '/v1/models/*',
    {
      schema: {
        tags: ['AIML / OpenAI images'],
        security: [{ bearer: [] }],
        summary: 'One model /v1/images/generations serves (OpenAI)',
        response: modelResponse,
      },
    },
    async (request) => {
      const id = (request.params as { '*': string })['*']
      const model = served().find((m) => m.id === id)
      if (model) return model
      throw new FluxhostError('MODEL_NOT_FOUND', {
        message: `The model '${id.slice(0, 60)}' does not exist here; models: ${served()
          .map((m) => m.id)
          .join(', ')}`,
        issues: [{ loc: ['model'], msg: 'No such model', type: 'enum', input: id.slice(0, 60) }],
      })
    },
  )
}
