import type { FastifyPluginAsync } from 'fastify'
import { FluxhostError } from '../../../domain/errors.js'
import type { GenerationRequest } from '../../../domain/job.js'
import { MODELS, sizeForAspectRatio } from '../../../domain/models.js'
import { requireKey } from '../../auth.js'
import type { ApiDeps } from '../../deps.js'
import { dialectErrorHandler } from '../../errors.js'
import { CREATE_LOCK_MS, idempotent, noteJob } from '../../idempotency.js'
import { decodeBase64Field, simulationFrom } from '../../request-input.js'
import { baseUrl, urlContext } from '../../urls.js'
import { renderError, renderNotFound, renderResult, renderSubmit } from './render.js'
import {
  type FluxDevBody,
  type FluxPro11Body,
  type FluxUltraBody,
  fluxDevBody,
  fluxPro11Body,
  fluxUltraBody,
  getResultQuery,
  resultResponse,
  submitResponse,
} from './schemas.js'

/** The fields every BFL generation body has. */
type CommonBody = Pick<
  FluxPro11Body,
  | 'prompt'
  | 'image_prompt'
  | 'prompt_upsampling'
  | 'seed'
  | 'safety_tolerance'
  | 'output_format'
  | 'webhook_url'
  | 'webhook_secret'
>

/** The strength BFL applies to a pro-1.1 or dev image prompt, which take no strength field. */
export const BFL_IMAGE_PROMPT_STRENGTH = 0.5

/**
 * Black Forest Labs' API: `POST /v1/flux-pro-1.1`, `/v1/flux-pro-1.1-ultra`, `/v1/flux-dev`
 * and `GET /v1/get_result`.
 */
export const bflRoutes: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  const { services, config, signer } = deps
  app.setErrorHandler(dialectErrorHandler((error) => renderError(error)))
  app.addHook('onRequest', requireKey(services.keys))
  const tags = ['BFL']
  const security: Record<string, string[]>[] = [{ xKey: [] }, { bearer: [] }]

  /** One BFL model's submit route; `fields` maps its body onto the canonical request. */
  const submitRoute = <B extends CommonBody>(
    path: string,
    summary: string,
    body: object,
    fields: (
      body: B,
    ) => Pick<GenerationRequest, 'model' | 'width' | 'height'> &
      Partial<Pick<GenerationRequest, 'raw' | 'steps' | 'guidance' | 'aspectRatio'>> & { imagePromptStrength: number },
  ) =>
    app.post(
      path,
      {
        schema: { tags, security, summary, body, response: submitResponse },
        ...idempotent({ service: services.idempotency, lockMs: CREATE_LOCK_MS }),
      },
      async (request) => {
        const body = request.body as B
        const { imagePromptStrength, ...specific } = fields(body)
        const imagePrompt = body.image_prompt
          ? {
              source: { data: decodeBase64Field(body.image_prompt, ['body', 'image_prompt']) },
              strength: imagePromptStrength,
              loc: ['body', 'image_prompt'],
            }
          : undefined
        const job = await services.jobs.create({
          apiKey: request.apiKey,
          dialect: 'bfl',
          request: {
            prompt: body.prompt ?? '',
            seed: body.seed,
            numImages: 1,
            promptUpsampling: body.prompt_upsampling,
            raw: false,
            safetyTolerance: body.safety_tolerance,
            safetyChecker: true,
            output: { format: body.output_format ?? 'jpeg', quality: 90 },
            webhook: body.webhook_url
              ? {
                  url: body.webhook_url,
                  base: baseUrl(request, config.publicUrl),
                  ...(body.webhook_secret ? { secret: body.webhook_secret } : {}),
                }
              : undefined,
            simulate: simulationFrom(request),
            ...specific,
          },
          imagePrompt,
        })
        await noteJob(request, job.id)
        return renderSubmit(job, urlContext(request, config.publicUrl, signer))
      },
    )

  submitRoute<FluxPro11Body>('/v1/flux-pro-1.1', 'Generate an image with FLUX 1.1 [pro]', fluxPro11Body, (body) => ({
    model: 'flux-pro-1.1',
    width: body.width,
    height: body.height,
    imagePromptStrength: BFL_IMAGE_PROMPT_STRENGTH,
  }))

  submitRoute<FluxUltraBody>(
    '/v1/flux-pro-1.1-ultra',
    'Generate an image with FLUX 1.1 [pro] ultra (about 4 megapixels)',
    fluxUltraBody,
    (body) => {
      const size = sizeForAspectRatio(MODELS['flux-pro-1.1-ultra'], body.aspect_ratio)
      return {
        model: 'flux-pro-1.1-ultra',
        ...size,
        aspectRatio: body.aspect_ratio,
        raw: body.raw,
        imagePromptStrength: body.image_prompt_strength,
      }
    },
  )

  submitRoute<FluxDevBody>('/v1/flux-dev', 'Generate an image with FLUX.1 [dev]', fluxDevBody, (body) => ({
    model: 'flux-dev',
    width: body.width,
    height: body.height,
    ...(body.steps === undefined ? {} : { steps: body.steps }),
    ...(body.guidance === undefined ? {} : { guidance: body.guidance }),
    imagePromptStrength: BFL_IMAGE_PROMPT_STRENGTH,
  }))

  app.get<{ Querystring: { id: string } }>(
    '/v1/get_result',
    {
      schema: {
        tags,
        security,
        summary: 'Poll a task',
        querystring: getResultQuery,
        response: { ...resultResponse, 404: resultResponse[200] },
      },
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
