import type { FastifyRequest } from 'fastify'
import { FluxhostError } from '../../../domain/errors.js'
import type { GenerationRequest } from '../../../domain/job.js'
import { MODELS, sizeForAspectRatio } from '../../../domain/models.js'
import { keyOf, requireKey } from '../../auth.js'
import type { ApiDeps } from '../../deps.js'
import { dialectErrorHandler } from '../../errors.js'
import { CREATE_LOCK_MS, idempotent, keyHold, noteJob } from '../../idempotency.js'
import { noteQuota, spendable, UNLIMITED_CREDITS } from '../../limits.js'
import { decodeBase64Field, simulationFrom } from '../../request-input.js'
import type { RoutesPlugin } from '../../schema-types.js'
import { baseUrl, urlContext } from '../../urls.js'
import { renderError, renderNotFound, renderResult, renderSubmit } from './render.js'
import {
  type FluxPro11Body,
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
export const bflRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer } = deps
  app.setErrorHandler(dialectErrorHandler((error) => renderError(error)))
  app.addHook('onRequest', requireKey(services.keys))
  const tags = ['BFL']
  const security: Record<string, string[]>[] = [{ xKey: [] }, { bearer: [] }]

  /** What differs between the models' bodies, in the canonical request's terms. */
  type Specific = Pick<GenerationRequest, 'model' | 'width' | 'height'> &
    Partial<Pick<GenerationRequest, 'raw' | 'steps' | 'guidance' | 'aspectRatio'>> & { imagePromptStrength: number }

  /** Creates the job for any model's submit: the common fields, and the model's own. */
  const submit = async (request: FastifyRequest, body: CommonBody, { imagePromptStrength, ...specific }: Specific) => {
    const imagePrompt = body.image_prompt
      ? {
          source: { data: decodeBase64Field(body.image_prompt, ['body', 'image_prompt']) },
          strength: imagePromptStrength,
          loc: ['body', 'image_prompt'],
        }
      : undefined
    const job = await services.jobs.create({
      apiKey: keyOf(request),
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
      idempotency: keyHold(request),
      onQuota: noteQuota(request),
    })
    noteJob(request, job.id)
    return renderSubmit(job, urlContext(request, config.publicUrl, signer))
  }
  // `image_prompt` is an inline base64 image: these routes take the large body limit.
  const idempotency = {
    ...idempotent({
      service: services.idempotency,
      lockMs: CREATE_LOCK_MS,
      replayJob: async (request, reply, jobId) => {
        const job = await services.jobs.get(jobId, keyOf(request))
        return reply.send(renderSubmit(job, urlContext(request, config.publicUrl, signer)))
      },
    }),
    bodyLimit: config.bodyLimitBytes,
  }
  const schema = (summary: string) => ({ tags, security, summary, response: submitResponse })

  app.post(
    '/v1/flux-pro-1.1',
    { ...idempotency, schema: { ...schema('Generate an image with FLUX 1.1 [pro]'), body: fluxPro11Body } },
    (request) =>
      submit(request, request.body, {
        model: 'flux-pro-1.1',
        width: request.body.width,
        height: request.body.height,
        imagePromptStrength: BFL_IMAGE_PROMPT_STRENGTH,
      }),
  )

  app.post(
    '/v1/flux-pro-1.1-ultra',
    {
      ...idempotency,
      schema: { ...schema('Generate an image with FLUX 1.1 [pro] ultra (about 4 megapixels)'), body: fluxUltraBody },
    },
    (request) => {
      const { aspect_ratio, raw, image_prompt_strength } = request.body
      return submit(request, request.body, {
        model: 'flux-pro-1.1-ultra',
        ...sizeForAspectRatio(MODELS['flux-pro-1.1-ultra'], aspect_ratio),
        aspectRatio: aspect_ratio,
        raw,
        imagePromptStrength: image_prompt_strength,
      })
    },
  )

  app.post(
    '/v1/flux-dev',
    { ...idempotency, schema: { ...schema('Generate an image with FLUX.1 [dev]'), body: fluxDevBody } },
    (request) => {
      const { width, height, steps, guidance } = request.body
      return submit(request, request.body, {
        model: 'flux-dev',
        width,
        height,
        ...(steps === undefined ? {} : { steps }),
        ...(guidance === undefined ? {} : { guidance }),
        imagePromptStrength: BFL_IMAGE_PROMPT_STRENGTH,
      })
    },
  )

  app.get(
    '/v1/get_result',
    {
      schema: {
        tags,
        security,
        summary: 'Poll a task',
        description:
          "An id that does not exist, or is another key's, answers 200 with status `Task not found`, " +
          'as BFL documents it.',
        querystring: getResultQuery,
        response: resultResponse,
      },
    },
    async (request) => {
      try {
        const job = await services.jobs.get(request.query.id, keyOf(request))
        return renderResult(job, urlContext(request, config.publicUrl, signer))
      } catch (error) {
        // BFL answers an unknown task with 200 and a status, and its clients read the status
        // (a 404 makes BFL's Python client raise instead). Another key's job reads the same,
        // so an id says nothing about whether it exists.
        if (error instanceof FluxhostError && error.code === 'JOB_NOT_FOUND') return renderNotFound(request.query.id)
        throw error
      }
    },
  )

  app.get(
    '/v1/credits',
    {
      schema: {
        tags,
        security,
        summary: "The calling key's credits (1 credit = $0.01)",
        description:
          'What the key may still spend, in BFL credits: its prepaid balance less what its queued and running ' +
          'jobs have reserved, or what is left of its budget for the period, whichever is less. A key with ' +
          `neither answers ${UNLIMITED_CREDITS} and \`unlimited: true\`.`,
        response: {
          200: {
            type: 'object',
            required: ['credits'],
            properties: { credits: { type: 'number' }, unlimited: { type: 'boolean' } },
          },
        },
      },
    },
    async (request) => {
      const standing = await services.limits.standing(keyOf(request).id)
      const left = spendable(standing)
      return left === null ? { credits: UNLIMITED_CREDITS, unlimited: true } : { credits: left }
    },
  )
}
