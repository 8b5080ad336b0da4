import type { FluxhostError } from '../../../domain/errors.js'
import type { Job } from '../../../domain/job.js'
import { microsToCredits } from '../../../domain/money.js'
import { EXPIRED_MESSAGE, isPruned } from '../../expired.js'
import type { UrlContext } from '../../urls.js'

export type BflStatus = 'Task not found' | 'Pending' | 'Request Moderated' | 'Content Moderated' | 'Ready' | 'Error'

export function bflStatus(job: Job): BflStatus {
  switch (job.state) {
    case 'queued':
    case 'running':
      return 'Pending'
    case 'succeeded':
      return 'Ready'
    case 'failed':
      if (job.error?.code === 'REQUEST_MODERATED') return 'Request Moderated'
      if (job.error?.code === 'CONTENT_MODERATED') return 'Content Moderated'
      return 'Error'
    case 'canceled':
      return 'Error'
  }
}

const megapixels = (pixels: number) => Math.round((pixels / 1_000_000) * 100) / 100
const seconds = (date: Date | null) => (date === null ? null : date.getTime() / 1000)

export function renderSubmit(job: Job, urls: UrlContext) {
  const { request } = job
  const body: Record<string, unknown> = {
    id: job.id,
    polling_url: `${urls.base}/v1/get_result?id=${job.id}`,
    cost: microsToCredits(job.costMicros),
    input_mp: request.imagePrompt ? megapixels(request.width * request.height) : null,
    output_mp: megapixels(request.width * request.height * request.numImages),
  }
  if (request.webhook) {
    body.status = 'Pending'
    body.webhook_url = request.webhook.url
  }
  return body
}

/** `GET /v1/get_result`: BFL's `ResultResponse`. */
export function renderResult(job: Job, urls: UrlContext) {
  const status = bflStatus(job)
  const pruned = isPruned(job)
  let result: Record<string, unknown> | null = null
  if (job.state === 'succeeded' && job.result) {
    const [first, ...rest] = job.result.images
    result = {
      // Pruned: no `sample` at all (its file is gone), and `details.expired` says why.
      ...(pruned ? {} : { sample: first ? urls.fileUrl(first.key) : null, prompt: job.result.prompt }),
      seed: job.result.seed,
      start_time: seconds(job.startedAt),
      end_time: seconds(job.finishedAt),
      duration: job.startedAt && job.finishedAt ? (job.finishedAt.getTime() - job.startedAt.getTime()) / 1000 : null,
    }
    if (rest.length > 0) result.samples = job.result.images.map((image) => urls.fileUrl(image.key))
    if (job.result.upsampling) result.prompt_upsampling = job.result.upsampling
  }
  let details: Record<string, unknown> | null = null
  if (job.error) {
    details = { code: job.error.code, message: job.error.message }
    if (status === 'Request Moderated' || status === 'Content Moderated')
      details['Moderation Reasons'] = [job.error.message]
  }
  if (pruned) details = { ...details, expired: EXPIRED_MESSAGE }
  // The engine's provider could not honour some fields: said where BFL's clients look for notes.
  if (job.result?.notHonoured) details = { ...details, not_honoured: job.result.notHonoured }
  return {
    id: job.id,
    status,
    result,
    progress: job.state === 'succeeded' ? 1 : job.progress,
    details,
    preview: null,
  }
}

export function renderNotFound(id: string) {
  return { id, status: 'Task not found' as const, result: null, progress: null, details: null, preview: null }
}

/** FastAPI's error shapes: field errors as a `detail` list (422), anything else as a string. */
export function renderError(error: FluxhostError): { status: number; body: unknown } {
  if (error.issues.length > 0 && (error.code === 'VALIDATION_FAILED' || error.code === 'INVALID_JSON')) {
    return {
      status: 422,
      body: {
        detail: error.issues.map((issue) => ({
          type: issue.type,
          loc: issue.loc,
          msg: issue.msg,
          ...(issue.input !== undefined ? { input: issue.input } : {}),
          ...(issue.ctx !== undefined ? { ctx: issue.ctx } : {}),
        })),
      },
    }
  }
  return { status: error.status, body: { detail: error.message } }
}
