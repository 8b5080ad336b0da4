import type { Job } from '../../../domain/job.js'
import { getModel, type ModelId } from '../../../domain/models.js'
import { MICROS_PER_CREDIT } from '../../../domain/money.js'
import type { WebhookStatus } from '../../../services/webhooks.js'
import { isPruned } from '../../expired.js'
import type { UrlContext } from '../../urls.js'

export type ApiframeStatus = 'QUEUED' | 'PROCESSING' | 'COMPLETED' | 'FAILED' | 'CANCELLED'

export function apiframeStatus(job: Job): ApiframeStatus {
  switch (job.state) {
    case 'queued':
      return 'QUEUED'
    case 'running':
      return 'PROCESSING'
    case 'succeeded':
      return 'COMPLETED'
    case 'failed':
      return 'FAILED'
    case 'canceled':
      return 'CANCELLED'
  }
}

/** The model as Apiframe names it, or fluxhost's id for one Apiframe has no name for (a BFL job's flux-dev). */
export const apiframeModel = (model: ModelId): string => getModel(model).aliases.apiframe ?? model

/** Whole credits (1 credit = $0.01, BFL's unit): rounded, as Apiframe's `creditCost` is an integer. */
export const toCredits = (micros: number): number => Math.round(micros / MICROS_PER_CREDIT)

/**
 * Credits charged: null while the job may still be charged, the price once COMPLETED, 0 for a
 * job that ended otherwise (only successful generations are charged).
 */
function creditCost(job: Job): number | null {
  if (job.state === 'queued' || job.state === 'running') return null
  return job.state === 'succeeded' ? toCredits(job.costMicros) : 0
}

function renderResult(job: Job, urls: UrlContext) {
  if (job.state !== 'succeeded') return null
  const pruned = isPruned(job)
  const images = job.result.images.map((image) => ({
    url: urls.fileUrl(image.key),
    width: image.width,
    height: image.height,
  }))
  return {
    url: images[0]?.url ?? null,
    images,
    seed: job.result.seed,
    ...(job.result.upsampling && !pruned ? { prompt: job.result.prompt } : {}),
    ...(job.result.upsampling ? { promptUpsampling: job.result.upsampling } : {}),
  }
}

/** A job as `GET /v2/jobs` lists it: Apiframe's `Job` without `input`, and fluxhost's `errorCode`. */
export function renderListItem(job: Job, urls: UrlContext, webhookStatus: WebhookStatus) {
  return {
    id: job.id,
    status: apiframeStatus(job),
    model: apiframeModel(job.model),
    progress: job.state === 'succeeded' ? 100 : Math.round(job.progress * 100),
    error: job.error?.message ?? null,
    errorCode: job.error?.code ?? null,
    creditCost: creditCost(job),
    webhookStatus,
    createdAt: job.createdAt.toISOString(),
    completedAt: job.finishedAt?.toISOString() ?? null,
    // Retention deleted its images (`result.images` is empty) and scrubbed its prompt.
    expired: isPruned(job),
    result: renderResult(job, urls),
  }
}

/**
 * The request as fluxhost runs it, in Apiframe's names: the size an aspect ratio was made at,
 * the seed drawn, and the image prompt as stored (a signed URL of fluxhost's copy).
 */
export function renderInput(job: Job, urls: UrlContext) {
  const { request } = job
  const webhook = request.webhook
  return {
    model: apiframeModel(job.model),
    prompt: request.prompt,
    fluxParams: {
      width: request.width,
      height: request.height,
      seed: request.seed,
      output_format: request.output.format === 'jpeg' ? 'jpg' : request.output.format,
      output_quality: request.output.quality,
      prompt_upsampling: request.promptUpsampling,
      raw: request.raw,
      ...(request.imagePrompt
        ? { image_prompt: urls.fileUrl(request.imagePrompt.key), image_prompt_strength: request.imagePrompt.strength }
        : {}),
      ...(request.steps === undefined ? {} : { steps: request.steps }),
      ...(request.guidance === undefined ? {} : { guidance: request.guidance }),
      ...(request.aspectRatio === undefined ? {} : { aspect_ratio: request.aspectRatio }),
    },
    ...(webhook ? { webhookUrl: webhook.url, ...(webhook.events ? { webhookEvents: webhook.events } : {}) } : {}),
  }
}

/** `GET /v2/jobs/{id}`: Apiframe's `Job`. */
export function renderJob(job: Job, urls: UrlContext, webhookStatus: WebhookStatus) {
  return { ...renderListItem(job, urls, webhookStatus), input: renderInput(job, urls) }
}

/**
 * The webhook of a finished job: `{jobId, type, status, …}` (Apiframe documents no body; its
 * SDK signs `{jobId, status}`), then the job as listed, without its `webhookStatus`. `type`
 * is the `webhookEvents` name of the ending: `completed`, or `failed` (failed or cancelled).
 */
export function renderWebhookBody(job: Job, urls: UrlContext) {
  const { webhookStatus: _, status, ...item } = renderListItem(job, urls, null)
  return { jobId: job.id, type: job.state === 'succeeded' ? 'completed' : 'failed', status, ...item }
}
