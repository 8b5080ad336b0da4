import { FluxhostError } from '../../../domain/errors.js'
import type { OutputFormat } from '../../../domain/job.js'
import { aliasesOf, getModel, modelByAlias } from '../../../domain/models.js'
import { keyOf, requireKey } from '../../auth.js'
import type { ApiDeps } from '../../deps.js'
import { dialectErrorHandler } from '../../errors.js'
import { CREATE_LOCK_MS, idempotent, keyHold, noteJob } from '../../idempotency.js'
import { noteQuota } from '../../limits.js'
import { simulationFrom } from '../../request-input.js'
import type { RoutesPlugin } from '../../schema-types.js'
import { baseUrl, urlContext } from '../../urls.js'
import { gatewayErrorResponses, renderGatewayError } from '../gateway-errors.js'
import { renderJob } from './render.js'
import { ASPECT_RATIOS, type FluxParams, generateBody, jobParams, jobResponse } from './schemas.js'

/** aspect_ratio → size; `custom` (or width/height without a ratio) uses the given sides. */
export function sizeOf(params: Partial<FluxParams>): { width: number; height: number } {
  const model = getModel('flux-pro-1.1').size
  const ratio = params.aspect_ratio
  if (ratio === 'custom' || (ratio === undefined && (params.width !== undefined || params.height !== undefined))) {
    return { width: params.width ?? model.defaultWidth, height: params.height ?? model.defaultHeight }
  }
  return ASPECT_RATIOS[ratio ?? '1:1']
}

const FORMATS: Record<NonNullable<FluxParams['output_format']>, OutputFormat> = {
  jpg: 'jpeg',
  jpeg: 'jpeg',
  png: 'png',
  webp: 'webp',
}

/** Apiframe's v2 API (seeds 002 and 003): `POST /v2/images/generate`, `GET /v2/jobs/{id}`. */
export const apiframeRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer } = deps
  app.setErrorHandler(dialectErrorHandler((error, request) => renderGatewayError(error, request.id)))
  app.addHook('onRequest', requireKey(services.keys))
  const tags = ['Apiframe v2']
  const security: Record<string, string[]>[] = [{ apiKey: [] }]

  app.post(
    '/v2/images/generate',
    {
      schema: {
        tags,
        security,
        summary: 'Generate with flux-1.1-pro; poll GET /v2/jobs/{id}',
        body: generateBody,
        response: {
          202: { type: 'object', properties: { jobId: { type: 'string' }, status: { type: 'string' } } },
          ...gatewayErrorResponses,
        },
      },
      ...idempotent({
        service: services.idempotency,
        lockMs: CREATE_LOCK_MS,
        replayJob: async (request, reply, jobId) =>
          reply.code(202).send({ jobId: (await services.jobs.get(jobId, keyOf(request))).id, status: 'QUEUED' }),
      }),
    },
    async (request, reply) => {
      const body = request.body
      const model = modelByAlias('apiframe', body.model)
      if (!model) {
        const served = aliasesOf('apiframe').join(', ')
        throw new FluxhostError('VALIDATION_FAILED', {
          message: `model: '${body.model.slice(0, 60)}' is not served here; models: ${served}`,
          issues: [
            {
              loc: ['body', 'model'],
              msg: `Input should be ${aliasesOf('apiframe')
                .map((m) => `'${m}'`)
                .join(' or ')}`,
              type: 'enum',
              input: body.model.slice(0, 60),
            },
          ],
        })
      }
      // Ajv fills fluxParams' defaults only when the client sent fluxParams.
      const params: Partial<FluxParams> = body.fluxParams ?? {}
      const job = await services.jobs.create({
        apiKey: keyOf(request),
        dialect: 'apiframe',
        request: {
          model,
          prompt: body.prompt,
          ...sizeOf(params),
          seed: params.seed,
          numImages: 1,
          // raw asks for the prompt as written, so it overrides upsampling.
          promptUpsampling: (params.prompt_upsampling ?? false) && !params.raw,
          raw: params.raw ?? false,
          safetyTolerance: 2,
          safetyChecker: true,
          output: { format: FORMATS[params.output_format ?? 'jpg'], quality: params.output_quality ?? 90 },
          webhook: body.webhook_url ? { url: body.webhook_url, base: baseUrl(request, config.publicUrl) } : undefined,
          simulate: simulationFrom(request),
        },
        imagePrompt: params.image_prompt
          ? {
              source: { url: params.image_prompt },
              strength: params.image_prompt_strength ?? 0.5,
              loc: ['body', 'fluxParams', 'image_prompt'],
            }
          : undefined,
        idempotency: keyHold(request),
        onQuota: noteQuota(request),
      })
      noteJob(request, job.id)
      return reply.code(202).send({ jobId: job.id, status: 'QUEUED' })
    },
  )

  app.get(
    '/v2/jobs/:id',
    {
      schema: {
        tags,
        security,
        summary: 'A job: status, result URLs once COMPLETED',
        params: jobParams,
        response: { 200: jobResponse, ...gatewayErrorResponses },
      },
    },
    async (request) =>
      renderJob(
        await services.jobs.get(request.params.id, keyOf(request)),
        urlContext(request, config.publicUrl, signer),
      ),
  )
}
