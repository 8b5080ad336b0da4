import type { Job } from '../../../domain/job.js'
import { modelByAlias } from '../../../domain/models.js'
import { keyOf, requireKey } from '../../auth.js'
import type { ApiDeps } from '../../deps.js'
import { CREATE_LOCK_MS, idempotent, keyHold, noteJob } from '../../idempotency.js'
import { noteQuota } from '../../limits.js'
import { simulationFrom, withFieldNames } from '../../request-input.js'
import type { RoutesPlugin } from '../../schema-types.js'
import { baseUrl } from '../../urls.js'
import { accountRoutes, catalogRoutes } from './account-routes.js'
import { apiframeErrorHandler } from './errors.js'
import { jobRoutes } from './job-routes.js'
import { apiframeStatus } from './render.js'
import { imagePromptOf, outputOf, sizeOf, unusedFields, webhookOf } from './request.js'
import { acceptedSchema, errorResponses, security, tags } from './responses.js'
import { type FluxParams, generateBody } from './schemas.js'

/** JobAccepted's status: its enum has no CANCELLED (a replay of a job canceled since reads FAILED). */
const acceptedStatus = (job: Job) => {
  const status = apiframeStatus(job)
  return status === 'CANCELLED' ? 'FAILED' : status
}

/** `POST /v2/images/generate`: flux-1.1-pro as Apiframe's OpenAPI document (2.0.0) and the seeds describe it. */
const generateRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config } = deps
  app.post(
    '/v2/images/generate',
    {
      schema: {
        tags,
        security,
        summary: 'Generate with flux-1.1-pro; poll GET /v2/jobs/{id} or get a webhook',
        body: generateBody,
        response: { 202: acceptedSchema, ...errorResponses },
      },
      ...idempotent({
        service: services.idempotency,
        lockMs: CREATE_LOCK_MS,
        replayJob: async (request, reply, jobId) =>
          reply.code(202).send({ jobId, status: acceptedStatus(await services.jobs.get(jobId, keyOf(request))) }),
      }),
    },
    async (request, reply) => {
      const body = request.body
      // The schema admits only the served names.
      const model = modelByAlias('apiframe', body.model) ?? 'flux-pro-1.1'
      const params: FluxParams = body.fluxParams ?? {}
      const size = sizeOf(model, params)
      const webhook = webhookOf(body, baseUrl(request, config.publicUrl))
      const warnings = [size.warning, size.ignored, ...unusedFields(params, webhook?.target)].filter(
        (w): w is string => w !== undefined,
      )
      const rename = { width: ['fluxParams', 'width'], height: ['fluxParams', 'height'], seed: ['fluxParams', 'seed'] }
      const job = await withFieldNames(rename, () =>
        services.jobs.create({
          apiKey: keyOf(request),
          dialect: 'apiframe',
          request: {
            model,
            prompt: body.prompt,
            width: size.width,
            height: size.height,
            seed: params.seed,
            numImages: 1,
            // raw asks for the prompt as written, so it overrides upsampling.
            promptUpsampling: (params.prompt_upsampling ?? false) && !params.raw,
            raw: params.raw ?? false,
            safetyTolerance: 2,
            safetyChecker: true,
            output: outputOf(params),
            webhook: webhook?.target,
            simulate: simulationFrom(request),
          },
          imagePrompt: imagePromptOf(params),
          webhookLoc: webhook?.loc,
          idempotency: keyHold(request),
          onQuota: noteQuota(request),
        }),
      )
      noteJob(request, job.id)
      return reply.code(202).send({ jobId: job.id, status: 'QUEUED', ...(warnings.length > 0 ? { warnings } : {}) })
    },
  )
}

/**
 * Apiframe's v2 API (its OpenAPI document 2.0.0 and seeds 002/003): generate, jobs (one, and
 * the list), the caller (`/v2/me`), and the model catalog, which needs no key.
 */
export const apiframeRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  app.setErrorHandler(apiframeErrorHandler(deps.services, deps.config.pricesUsd))
  await app.register(catalogRoutes, deps)
  await app.register(async (keyed) => {
    keyed.addHook('onRequest', requireKey(deps.services.keys))
    await keyed.register(generateRoutes, deps)
    await keyed.register(jobRoutes, deps)
    await keyed.register(accountRoutes, deps)
  })
}
