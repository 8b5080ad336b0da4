import type { FluxhostError } from '../../../domain/errors.js'
import type { Job } from '../../../domain/job.js'
import { isPruned } from '../../expired.js'
import type { UrlContext } from '../../urls.js'
import { fieldName } from '../gateway-errors.js'

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
    // A replay (Idempotency-Key) of a job that retention pruned since: its images are gone.
    ...(isPruned(job) ? { expired: true } : {}),
  }
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
