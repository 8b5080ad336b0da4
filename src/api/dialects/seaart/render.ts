import type { Job } from '../../../domain/job.js'
import { getModel } from '../../../domain/models.js'
import { formatUsd } from '../../../domain/money.js'
import { isPruned } from '../../expired.js'
import type { UrlContext } from '../../urls.js'

export type SeaArtStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled'

export function seaartStatus(job: Job): SeaArtStatus {
  switch (job.state) {
    case 'queued':
      return 'queued'
    case 'running':
      return 'in_progress'
    case 'succeeded':
      return 'completed'
    case 'failed':
      return 'failed'
    case 'canceled':
      return 'cancelled'
  }
}

/** The queue URLs of a request, absolute, as the create response gives them. */
export function requestUrls(job: Job, urls: UrlContext) {
  const base = `${urls.base}/v1/queue/${getModel(job.model).aliases.seaart ?? job.model}/requests/${job.id}`
  return { response_url: `${base}/response`, status_url: `${base}/status`, cancel_url: `${base}/cancel` }
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString())

/** `GET …/response` (seed 000): output and usage only when completed, error only when failed. */
export function renderResponse(job: Job, urls: UrlContext) {
  const status = seaartStatus(job)
  const { request } = job
  const body: Record<string, unknown> = { request_id: job.id, status }
  // Retention deleted its images (`output` lists none) and scrubbed its prompt.
  if (isPruned(job)) body.expired = true
  if (status === 'completed' && job.result) {
    body.output = [{ content: job.result.images.map((image) => ({ type: 'image', url: urls.fileUrl(image.key) })) }]
    body.usage = { cost: formatUsd(job.costMicros), discount: 0 }
  }
  body.metadata = {
    model: getModel(job.model).aliases.seaart ?? job.model,
    prompt: job.result?.prompt ?? request.prompt,
    seed: request.seed,
    width: request.width,
    height: request.height,
    output_format: request.output.format,
    num_images: request.numImages,
    safety_tolerance: request.safetyTolerance,
    prompt_upsampling: request.promptUpsampling,
    ...(job.result?.upsampling ? { prompt_upsampling_result: job.result.upsampling } : {}),
    engine: job.engine,
    progress: status === 'completed' ? 1 : job.progress,
    created_at: iso(job.createdAt),
    started_at: iso(job.startedAt),
    completed_at: iso(job.finishedAt),
  }
  if (status === 'failed' && job.error) body.error = { code: job.error.code, message: job.error.message }
  return body
}
