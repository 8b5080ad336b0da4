import { FluxhostError } from '../../../domain/errors.js'
import type { Job } from '../../../domain/job.js'
import { isPruned } from '../../expired.js'
import type { UrlContext } from '../../urls.js'
import { fieldName } from '../gateway-errors.js'
import { JobAnswerError } from './job-errors.js'

/** The size a job made, as OpenAI writes it. */
const sizeOf = (job: Job) => `${job.request.width}x${job.request.height}`

/** The 201 body: AIML's fields and, in the same object, OpenAI's `created` and `data`. */
export function renderGenerations(job: Job, urls: UrlContext, b64: Buffer[] | undefined) {
  const images = job.result?.images ?? []
  const urlsOf = images.map((image) => urls.fileUrl(image.key))
  return {
    images: images.map((image, i) => ({
      url: urlsOf[i]!,
      width: image.width,
      height: image.height,
      content_type: image.contentType,
    })),
    timings: {
      inference: (job.result?.inferenceMs ?? 0) / 1000,
      encode: (job.result?.encodeMs ?? 0) / 1000,
      ...(job.result?.safetyMs === undefined ? {} : { safety: job.result.safetyMs / 1000 }),
    },
    seed: job.result?.seed ?? job.request.seed,
    has_nsfw_concepts: images.map((_, i) => job.result?.nsfw?.[i] ?? false),
    prompt: job.result?.prompt ?? job.request.prompt,
    created: Math.floor(job.createdAt.getTime() / 1000),
    data: b64 ? b64.map((data) => ({ b64_json: data.toString('base64') })) : urlsOf.map((url) => ({ url })),
    // OpenAI's report of what was made: a size past the model's range was made smaller.
    size: sizeOf(job),
    output_format: job.request.output.format,
    background: 'opaque',
    // A replay (Idempotency-Key) of a job that retention pruned since: its images are gone.
    ...(isPruned(job) ? { expired: true } : {}),
  }
}

/**
 * OpenAI's `image_generation.completed` stream event for one image. fluxhost meters images,
 * not tokens: usage is all zeros (the cost is in fluxhost's usage API).
 */
export function renderCompletedEvent(job: Job, bytes: Buffer) {
  return {
    type: 'image_generation.completed',
    b64_json: bytes.toString('base64'),
    created_at: Math.floor((job.finishedAt ?? job.createdAt).getTime() / 1000),
    size: sizeOf(job),
    quality: 'auto',
    background: 'opaque',
    output_format: job.request.output.format,
    usage: {
      input_tokens: 0,
      input_tokens_details: { image_tokens: 0, text_tokens: 0 },
      output_tokens: 0,
      total_tokens: 0,
    },
  }
}

/** What an error answered from a job adds: the job's id and where to read it. */
export function jobFields(error: FluxhostError, base: string): Record<string, unknown> {
  return error instanceof JobAnswerError ? { job_id: error.jobId, url: `${base}/api/jobs/${error.jobId}` } : {}
}

/** OpenAI's 404 for a route that does not exist, for clients that call /v1 with a Bearer key. */
export function renderOpenAiNotFound(method: string, path: string) {
  return renderAimlError(new FluxhostError('NOT_FOUND', { message: `No route ${method} ${path.slice(0, 200)}` }))
}

const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'insufficient_quota',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  504: 'timeout_error',
}

/**
 * OpenAI's error shape, which AIML's clients and the `openai` package read:
 * `{"error": {"message", "type", "param", "code"}}`. Field problems are 400s.
 */
export function renderAimlError(
  error: FluxhostError,
  extra: Record<string, unknown> = {},
): { status: number; body: unknown } {
  const isInput = error.code === 'VALIDATION_FAILED' || error.code === 'INVALID_JSON'
  const status = isInput ? 400 : error.status
  const first = error.issues[0]
  return {
    status,
    body: {
      error: {
        message: error.message,
        type: TYPES[status] ?? 'api_error',
        param: first ? fieldName(first.loc) : null,
        code: error.code,
        ...(error.issues.length > 0
          ? { details: error.issues.map((i) => ({ field: fieldName(i.loc), message: i.msg, type: i.type })) }
          : {}),
        ...extra,
      },
    },
  }
}
