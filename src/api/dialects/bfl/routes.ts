import type { FastifyInstance } from 'fastify'
import { CREATE_LOCK_MS, idempotent, noteJob } from '../../idempotency.js'
import { FluxhostError } from '../../../domain/errors.js'
import { requireKey } from '../../auth.js'
import { dialectErrorHandler } from '../../errors.js'
import { decodeBase64Field, simulationFrom } from '../../request-input.js'
import type { ApiDeps } from '../../deps.js'
import { baseUrl, urlContext } from '../../urls.js'
import { renderError, renderNotFound, renderResult, renderSubmit } from './render.js'
import { fluxPro11Body, getResultQuery, resultResponse, submitResponse, type FluxPro11Body } from './schemas.js'

/** The strength BFL applies to a pro-1.1 image prompt, which takes no strength field. */
export const BFL_IMAGE_PROMPT_STRENGTH = 0.5

/** Black Forest Labs' API: `POST /v1/flux-pro-1.1` and `GET /v1/get_result`. */
export async function bflRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { services, config, signer } = deps
  app.setErrorHandler(dialectErrorHandler((error) => renderError(error)))
  app.addHook('onRequest', requireKey(services.keys))
  const tags = ['BFL']
  const security: Record<string, string[]>[] = [{ xKey: [] }, { bearer: [] }]

  app.post<{ Body: FluxPro11Body }>(
    '/v1/flux-pro-1.1',
    {
      schema: { tags, security, summary: 'Generate an image with FLUX 1.1 [pro]', body: fluxPro11Body, response: submitResponse },
      ...idempotent({ service: services.idempotency, lockMs: CREATE_LOCK_MS }),
    },
    async (request) => {
      const body = request.body
      const imagePrompt = body.image_prompt
        ? { source: { data: decodeBase64Field(body.image_prompt, ['body', 'image_prompt']) }, strength: BFL_IMAGE_PROMPT_STRENGTH, loc: ['body', 'image_prompt'] }
        : undefined
      const job = await services.jobs.create({
        apiKey: request.apiKey,
        dialect: 'bfl',
        request: {
          model: 'flux-pro-1.1',
          prompt: body.prompt ?? '',
          width: body.width,
          height: body.height,
          seed: body.seed,
          numImages: 1,
          promptUpsampling: body.prompt_upsampling,
          raw: false,
          safetyTolerance: body.safety_tolerance,
          safetyChecker: true,
          output: { format: body.output_format ?? 'jpeg', quality: 90 },
          webhook: body.webhook_url
            ? { url: body.webhook_url, base: baseUrl(request, config.publicUrl), ...(body.webhook_secret ? { secret: body.webhook_secret } : {}) }
            : undefined,
          simulate: simulationFrom(request),
        },
        imagePrompt,
      })
      await noteJob(request, job.id)
      return renderSubmit(job, urlContext(request, config.publicUrl, signer))
    },
  )

  app.get<{ Querystring: { id: string } }>(
    '/v1/get_result',
    {
      schema: { tags, security, summary: 'Poll a task', querystring: getResultQuery, response: { ...resultResponse, 404: resultResponse[200] } },
    },
    async (request, reply) => {
      try {
        const job = await services.jobs.get(request.query.id, request.apiKey)
        return renderResult(job, urlContext(request, config.publicUrl, signer))
      } catch (error) {
        if (error instanceof FluxhostError && error.code === 'JOB_NOT_FOUND') {
          return reply.code(404).send(renderNotFound(request.query.id))
        }
        throw error
      }
    },
  )
}
