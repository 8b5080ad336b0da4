import type { Job } from '../../domain/job.js'
import type { ApiDeps } from '../deps.js'
import type { RoutesPlugin } from '../schema-types.js'
import { type UrlContext, urlContext } from '../urls.js'
import { security, tags } from './admin-scope.js'
import { renderJob } from './render.js'
import { errorResponse, jobIdParams, jobSchema } from './schemas.js'

/** A job as an admin sees it: the native rendering, with the key it belongs to. */
export const adminJobSchema = {
  ...jobSchema,
  properties: {
    ...jobSchema.properties,
    key: {
      type: 'object',
      description:
        "The key the job belongs to: its id, and its name (null for a key that is not listed, e.g. the CLI's).",
      properties: { id: { type: 'string' }, name: { type: ['string', 'null'] } },
    },
  },
} as const

/** renderJob, plus the owning key's id and name (`names`: AdminService.keyNames()). */
export function renderAdminJob(job: Job, urls: UrlContext, names: Map<string, string>) {
  return { ...renderJob(job, urls), key: { id: job.apiKeyId, name: names.get(job.apiKeyId) ?? null } }
}

/**
 * Any key's job, for the admin page's job view and its Cancel button. The owner check of
 * `/api/jobs/:id` stays as it is: these routes pass no key to the job service (which then
 * checks no owner), and they sit behind the admin scope's hooks (adminRoutes registers them).
 */
export const adminJobRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer } = deps
  const errors = { 401: errorResponse, 403: errorResponse, 404: errorResponse, 422: errorResponse }

  app.get(
    '/api/admin/jobs/:id',
    {
      schema: {
        tags,
        security,
        summary: "Any key's job, as `GET /api/jobs/:id` renders it, with the key it belongs to",
        params: jobIdParams,
        response: { 200: adminJobSchema, ...errors },
      },
    },
    async (request) => {
      const [job, names] = await Promise.all([
        services.jobs.get(request.params.id, undefined),
        services.admin.keyNames(),
      ])
      const rendered = renderAdminJob(job, urlContext(request, config.publicUrl, signer), names)
      return job.state === 'queued'
        ? { ...rendered, queuePosition: await services.jobs.queuePosition(job.id) }
        : rendered
    },
  )

  app.post(
    '/api/admin/jobs/:id/cancel',
    {
      schema: {
        tags,
        security,
        summary:
          "Cancel any key's queued or running job, as `POST /api/jobs/:id/cancel` does its owner's " +
          '(409 JOB_NOT_CANCELABLE once it succeeded or failed)',
        params: jobIdParams,
        response: { 200: adminJobSchema, ...errors, 409: errorResponse },
      },
    },
    async (request) => {
      const job = await services.jobs.cancel(request.params.id, undefined)
      request.log.info({ jobId: job.id, keyId: job.apiKeyId }, 'admin:job-canceled')
      return renderAdminJob(job, urlContext(request, config.publicUrl, signer), await services.admin.keyNames())
    },
  )
}
