import type { Job } from '../../../domain/job.js'
import { getModel } from '../../../domain/models.js'
import { MICROS_PER_USD } from '../../../domain/money.js'
import { isPruned } from '../../expired.js'
import type { UrlContext } from '../../urls.js'

export function apiframeStatus(job: Job): 'QUEUED' | 'PROCESSING' | 'COMPLETED' | 'FAILED' {
  switch (job.state) {
    case 'queued':
      return 'QUEUED'
    case 'running':
      return 'PROCESSING'
    case 'succeeded':
      return 'COMPLETED'
    case 'failed':
    case 'canceled':
      return 'FAILED'
  }
}

/** `GET /v2/jobs/{id}`. */
export function renderJob(job: Job, urls: UrlContext) {
  const status = apiframeStatus(job)
  const pruned = isPruned(job)
  return {
    jobId: job.id,
    status,
    // Retention deleted its images (`result.images` is empty) and scrubbed its prompt.
    ...(pruned ? { expired: true } : {}),
    model: getModel(job.model).aliases.apiframe ?? job.model,
    result:
      status === 'COMPLETED' && job.result
        ? {
            images: job.result.images.map((image) => ({
              url: urls.fileUrl(image.key),
              width: image.width,
              height: image.height,
            })),
            seed: job.result.seed,
            ...(job.result.upsampling && !pruned ? { prompt: job.result.prompt } : {}),
            ...(job.result.upsampling ? { promptUpsampling: job.result.upsampling } : {}),
          }
        : null,
    error: status === 'FAILED' && job.error ? { code: job.error.code, message: job.error.message } : null,
    cost: status === 'COMPLETED' ? job.costMicros / MICROS_PER_USD : 0,
    progress: status === 'COMPLETED' ? 1 : job.progress,
    createdAt: job.createdAt.toISOString(),
    completedAt: job.finishedAt?.toISOString() ?? null,
  }
}
