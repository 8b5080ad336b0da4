import { getModel, sizeForAspectRatio } from '../../domain/models.js'
import { keyOf } from '../auth.js'
import type { ApiDeps } from '../deps.js'
import { CREATE_LOCK_MS, idempotent, keyHold, noteJob } from '../idempotency.js'
import { noteQuota } from '../limits.js'
import { decodeBase64Field, simulationFrom } from '../request-input.js'
import type { RoutesPlugin } from '../schema-types.js'
import { baseUrl, urlContext } from '../urls.js'
import { renderJob } from './render.js'
import { createJobBody, errorResponse, jobIdParams, jobSchema, listJobsQuery, patchJobBody } from './schemas.js'

/** `/api/jobs`: every job of the caller's key, whichever dialect made it. */
export const jobRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer } = deps
  const tags = ['Jobs']
  const security: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }]
  const errors = { 401: errorResponse, 404: errorResponse, 409: errorResponse, 422: errorResponse }

  app.post(
    '/api/jobs',
    {
      schema: {
        tags,
        security,
        summary: "Create a job (fluxhost's own shape)",
        body: createJobBody,
        response: { 202: jobSchema, ...errors },
      },
      ...idempotent({
        service: services.idempotency,
        lockMs: CREATE_LOCK_MS,
        replayJob: async (request, reply, jobId) => {
          const job = await services.jobs.get(jobId, keyOf(request))
          return reply.code(202).send(renderJob(job, urlContext(request, config.publicUrl, signer)))
        },
      }),
    },
    async (request, reply) => {
      const body = request.body
      const model = getModel(body.model)
      // Ultra takes an aspect ratio (default 16:9) and derives its ~4 MP size, unless a size is given.
      const size =
        model.aspectRatio && body.width === undefined && body.height === undefined
          ? sizeForAspectRatio(model, body.aspectRatio)
          : { width: body.width ?? model.size.defaultWidth, height: body.height ?? model.size.defaultHeight }
      const job = await services.jobs.create({
        apiKey: keyOf(request),
        dialect: 'native',
        request: {
          model: body.model,
          prompt: body.prompt,
          ...size,
          seed: body.seed,
          numImages: body.numImages,
          promptUpsampling: body.promptUpsampling,
          raw: body.raw,
          ...(body.steps === undefined ? {} : { steps: body.steps }),
          ...(body.guidance === undefined ? {} : { guidance: body.guidance }),
          ...(body.aspectRatio === undefined ? {} : { aspectRatio: body.aspectRatio }),
          safetyTolerance: body.safetyTolerance,
          safetyChecker: true,
          output: { format: body.outputFormat, quality: body.outputQuality },
          webhook: body.webhookUrl ? { url: body.webhookUrl, base: baseUrl(request, config.publicUrl) } : undefined,
          simulate: simulationFrom(request),
        },
        imagePrompt: body.imagePrompt
          ? {
              source: { data: decodeBase64Field(body.imagePrompt.data, ['body', 'imagePrompt', 'data']) },
              strength: body.imagePrompt.strength,
              loc: ['body', 'imagePrompt', 'data'],
            }
          : undefined,
        webhookLoc: ['body', 'webhookUrl'],
        idempotency: keyHold(request),
        onQuota: noteQuota(request),
      })
      noteJob(request, job.id)
      return reply.code(202).send(renderJob(job, urlContext(request, config.publicUrl, signer)))
    },
  )

  app.get(
    '/api/jobs',
    {
      schema: {
        tags,
        security,
        summary: 'List your jobs, newest first',
        querystring: listJobsQuery,
        response: {
          200: {
            type: 'object',
            properties: { data: { type: 'array', items: jobSchema }, nextCursor: { type: ['string', 'null'] } },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const { jobs, nextCursor } = await services.jobs.list(keyOf(request), request.query)
      const urls = urlContext(request, config.publicUrl, signer)
      return { data: jobs.map((job) => renderJob(job, urls)), nextCursor }
    },
  )

  app.get(
    '/api/jobs/:id',
    { schema: { tags, security, summary: 'Get a job', params: jobIdParams, response: { 200: jobSchema, ...errors } } },
    async (request) => {
      const job = await services.jobs.get(request.params.id, keyOf(request))
      const rendered = renderJob(job, urlContext(request, config.publicUrl, signer))
      // Where a waiting job stands (one count, for this read only: lists and streams leave it out).
      return job.state === 'queued'
        ? { ...rendered, queuePosition: await services.jobs.queuePosition(job.id) }
        : rendered
    },
  )

  app.patch(
    '/api/jobs/:id',
    {
      schema: {
        tags,
        security,
        summary: 'Mark a job a favourite, or not (any state; saying what it already is changes nothing)',
        params: jobIdParams,
        body: patchJobBody,
        response: { 200: jobSchema, ...errors },
      },
    },
    async (request) => {
      const job = await services.jobs.setFavourite(request.params.id, keyOf(request), request.body.favourite)
      return renderJob(job, urlContext(request, config.publicUrl, signer))
    },
  )

  app.post(
    '/api/jobs/:id/cancel',
    {
      schema: {
        tags,
        security,
        summary: 'Cancel a queued or running job (a running engine is aborted)',
        params: jobIdParams,
        response: { 200: jobSchema, ...errors },
      },
    },
    async (request) => {
      const job = await services.jobs.cancel(request.params.id, keyOf(request))
      return renderJob(job, urlContext(request, config.publicUrl, signer))
    },
  )

  app.delete(
    '/api/jobs/:id',
    {
      schema: {
        tags,
        security,
        summary:
          'Delete a finished job: it disappears from reads and its images are removed (its charge stays in the usage)',
        params: jobIdParams,
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (request, reply) => {
      await services.jobs.delete(request.params.id, keyOf(request))
      return reply.code(204).send(null)
    },
  )
}
