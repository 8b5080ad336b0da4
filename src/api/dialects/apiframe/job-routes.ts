import type { ApiKey } from '../../../domain/api-key.js'
import { FluxhostError } from '../../../domain/errors.js'
import type { Job, JobState } from '../../../domain/job.js'
import { isModelId, MODEL_IDS, type ModelId, modelByAlias } from '../../../domain/models.js'
import { keyOf } from '../../auth.js'
import type { ApiDeps } from '../../deps.js'
import type { RoutesPlugin } from '../../schema-types.js'
import { urlContext } from '../../urls.js'
import { type ApiframeStatus, apiframeModel, renderJob, renderListItem } from './render.js'
import { errorResponses, jobListSchema, jobSchema, security, tags } from './responses.js'
import { jobParams, listQuery } from './schemas.js'

const STATES: Record<ApiframeStatus, JobState> = {
  QUEUED: 'queued',
  PROCESSING: 'running',
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'canceled',
}

/** A `model` filter: Apiframe's name or fluxhost's id; null: a model not served here (no job has it). */
function modelFilter(name: string | undefined): ModelId | null | undefined {
  if (name === undefined) return undefined
  return modelByAlias('apiframe', name) ?? (isModelId(name) ? name : null)
}

/** `GET /v2/jobs/{id}` and `GET /v2/jobs`: the caller's jobs, whichever API made them. */
export const jobRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer } = deps

  app.get(
    '/v2/jobs/:id',
    {
      schema: {
        tags,
        security,
        summary: 'A job: status, progress, result URLs once COMPLETED, error, credits, webhook status',
        params: jobParams,
        response: { 200: jobSchema, ...errorResponses },
      },
    },
    async (request) => {
      const job = await services.jobs.get(request.params.id, keyOf(request))
      const status = (await services.webhooks.statusOf([job])).get(job.id) ?? null
      return renderJob(job, urlContext(request, config.publicUrl, signer), status)
    },
  )

  app.get(
    '/v2/jobs',
    {
      schema: {
        tags,
        security,
        summary: 'Your jobs, newest first, a page at a time (nextCursor); scope=team: every key (admin keys)',
        querystring: listQuery,
        response: { 200: jobListSchema, ...errorResponses },
      },
    },
    async (request) => {
      const query = request.query
      const key = keyOf(request)
      if (query.scope === 'team' && key.scope !== 'admin')
        throw new FluxhostError('FORBIDDEN', { message: "scope=team lists every key's jobs: admin keys only" })
      const owner: ApiKey | undefined = query.scope === 'team' ? undefined : key
      const model = modelFilter(query.model)
      const state = query.status === undefined ? undefined : STATES[query.status]
      let page: { jobs: Job[]; nextCursor: string | null }
      if (model === null) page = { jobs: [], nextCursor: null }
      else if (query.search !== undefined) {
        const found = await services.jobs.get(query.search, owner).catch((error: unknown) => {
          if (error instanceof FluxhostError && error.code === 'JOB_NOT_FOUND') return undefined
          throw error
        })
        const matches = found && (state === undefined || found.state === state) && (!model || found.model === model)
        page = { jobs: matches ? [found] : [], nextCursor: null }
      } else page = await services.jobs.list(owner, { limit: query.limit, cursor: query.cursor, state, model })
      const urls = urlContext(request, config.publicUrl, signer)
      const statuses = await services.webhooks.statusOf(page.jobs)
      return {
        jobs: page.jobs.map((job) => renderListItem(job, urls, statuses.get(job.id) ?? null)),
        nextCursor: page.nextCursor,
        hasMore: page.nextCursor !== null,
        // The names the model filter takes: every model this server has, as Apiframe names them.
        ...(query.include_models === 'true' ? { models: MODEL_IDS.map(apiframeModel) } : {}),
      }
    },
  )
}
