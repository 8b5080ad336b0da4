import type { FastifyRequest } from 'fastify'
import { FluxhostError } from '../../../domain/errors.js'
import type { Job } from '../../../domain/job.js'
import { aliasesOf } from '../../../domain/models.js'
import { keyOf, requireKey } from '../../auth.js'
import type { ApiDeps } from '../../deps.js'
import { dialectErrorHandler } from '../../errors.js'
import { CREATE_LOCK_MS, idempotent, keyHold, noteJob } from '../../idempotency.js'
import { noteQuota } from '../../limits.js'
import { decodeBase64Field, simulationFrom } from '../../request-input.js'
import type { RoutesPlugin } from '../../schema-types.js'
import { baseUrl, urlContext } from '../../urls.js'
import { BFL_IMAGE_PROMPT_STRENGTH } from '../bfl/routes.js'
import { gatewayErrorResponses, renderGatewayError } from '../gateway-errors.js'
import { renderResponse, requestUrls, seaartStatus } from './render.js'
import { createBody, requestParams, resultResponse, statusResponse, submitResponse } from './schemas.js'

const MODEL = 'flux_pro_11'

/** The SeaArt-style queue API of seeds 000 and 001, under `/v1/queue/flux_pro_11`. */
export const seaartRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer } = deps
  app.setErrorHandler(dialectErrorHandler((error, request) => renderGatewayError(error, request.id)))
  app.addHook('onRequest', requireKey(services.keys))
  const tags = ['SeaArt queue']
  const security: Record<string, string[]>[] = [{ bearer: [] }]
  const base = `/v1/queue/${MODEL}`
  /** The create's answer for a job. */
  const created = async (request: FastifyRequest, job: Job) => ({
    request_id: job.id,
    ...requestUrls(job, urlContext(request, config.publicUrl, signer)),
    queue_position: await services.jobs.queuePosition(job.id),
  })

  app.post(
    base,
    {
      schema: {
        tags,
        security,
        summary: 'Create a FLUX 1.1 [pro] task',
        body: createBody,
        response: { 200: submitResponse, ...gatewayErrorResponses },
      },
      ...idempotent({
        service: services.idempotency,
        lockMs: CREATE_LOCK_MS,
        replayJob: async (request, reply, jobId) =>
          reply.send(await created(request, await services.jobs.get(jobId, keyOf(request)))),
      }),
      // `image_prompt` is an inline base64 image.
      bodyLimit: config.bodyLimitBytes,
    },
    async (request) => {
      const body = request.body
      if (body.model !== undefined && body.model !== MODEL) {
        throw new FluxhostError('VALIDATION_FAILED', {
          message: `model: this endpoint serves ${MODEL}, not '${body.model.slice(0, 60)}'`,
          issues: [
            {
              loc: ['body', 'model'],
              msg: `Input should be '${MODEL}'`,
              type: 'literal_error',
              input: body.model.slice(0, 60),
            },
          ],
        })
      }
      const job = await services.jobs.create({
        apiKey: keyOf(request),
        dialect: 'seaart',
        request: {
          model: 'flux-pro-1.1',
          prompt: body.prompt,
          width: body.width,
          height: body.height,
          seed: body.seed,
          numImages: 1,
          promptUpsampling: body.prompt_upsampling,
          raw: false,
          safetyTolerance: body.safety_tolerance,
          safetyChecker: true,
          output: { format: body.output_format, quality: 90 },
          webhook: body.webhook_url ? { url: body.webhook_url, base: baseUrl(request, config.publicUrl) } : undefined,
          simulate: simulationFrom(request),
        },
        imagePrompt: body.image_prompt
          ? {
              source: { data: decodeBase64Field(body.image_prompt, ['body', 'image_prompt']) },
              strength: BFL_IMAGE_PROMPT_STRENGTH,
              loc: ['body', 'image_prompt'],
            }
          : undefined,
        idempotency: keyHold(request),
        onQuota: noteQuota(request),
      })
      noteJob(request, job.id)
      return created(request, job)
    },
  )

  app.get(
    `${base}/requests/:id/status`,
    {
      schema: {
        tags,
        security,
        summary: 'Task status and queue position',
        params: requestParams,
        response: { 200: statusResponse, ...gatewayErrorResponses },
      },
    },
    async (request) => {
      const job = await services.jobs.get(request.params.id, keyOf(request))
      const status = seaartStatus(job)
      return {
        request_id: job.id,
        status,
        queue_position: status === 'queued' ? await services.jobs.queuePosition(job.id) : 0,
      }
    },
  )

  app.get(
    `${base}/requests/:id/response`,
    {
      schema: {
        tags,
        security,
        summary: 'Task result',
        params: requestParams,
        response: { 200: resultResponse, ...gatewayErrorResponses },
      },
    },
    async (request) =>
      renderResponse(
        await services.jobs.get(request.params.id, keyOf(request)),
        urlContext(request, config.publicUrl, signer),
      ),
  )

  app.put(
    `${base}/requests/:id/cancel`,
    {
      schema: {
        tags,
        security,
        summary: 'Cancel a queued or running task (idempotent)',
        params: requestParams,
        response: {
          200: { type: 'object', properties: { request_id: { type: 'string' }, status: { type: 'string' } } },
          ...gatewayErrorResponses,
        },
      },
    },
    async (request) => {
      const job = await services.jobs.cancel(request.params.id, keyOf(request))
      return { request_id: job.id, status: seaartStatus(job) }
    },
  )

  // Any other model in the path (the static route above wins for ours): say which are served.
  const otherModel = { type: 'object', required: ['model'], properties: { model: { type: 'string' } } } as const
  app.post('/v1/queue/:model', { schema: { hide: true, params: otherModel } }, async (request) => {
    throw new FluxhostError('MODEL_NOT_FOUND', {
      message: `'${request.params.model.slice(0, 60)}' is not served here; models: ${aliasesOf('seaart').join(', ')}`,
    })
  })
}
