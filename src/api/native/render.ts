import { blobKeys } from '../../blobs/keys.js'
import type { FluxhostError } from '../../domain/errors.js'
import type { Job } from '../../domain/job.js'
import { formatUsd } from '../../domain/money.js'
import type { UrlContext } from '../urls.js'

const iso = (date: Date | null) => (date === null ? null : date.toISOString())

/** fluxhost's own view of a job, whatever dialect created it. */
export function renderJob(job: Job, urls: UrlContext) {
  const { request } = job
  return {
    id: job.id,
    object: 'job' as const,
    model: job.model,
    dialect: job.dialect,
    state: job.state,
    progress: job.state === 'succeeded' ? 1 : job.progress,
    request: {
      prompt: request.prompt,
      width: request.width,
      height: request.height,
      seed: request.seed,
      numImages: request.numImages,
      outputFormat: request.output.format,
      outputQuality: request.output.quality,
      safetyTolerance: request.safetyTolerance,
      promptUpsampling: request.promptUpsampling,
      raw: request.raw,
      ...(request.steps === undefined ? {} : { steps: request.steps }),
      ...(request.guidance === undefined ? {} : { guidance: request.guidance }),
      ...(request.aspectRatio === undefined ? {} : { aspectRatio: request.aspectRatio }),
      imagePrompt: request.imagePrompt ? { strength: request.imagePrompt.strength } : null,
      webhookUrl: request.webhook?.url ?? null,
    },
    result: job.result
      ? {
          images: job.result.images.map((image) => ({
            url: urls.fileUrl(image.key),
            thumbnailUrl: urls.fileUrl(blobKeys.thumbnail(image.key)),
            width: image.width,
            height: image.height,
            contentType: image.contentType,
            bytes: image.bytes,
          })),
          prompt: job.result.prompt,
          seed: job.result.seed,
          ...(job.result.upsampling ? { upsampling: job.result.upsampling } : {}),
          ...(job.result.nsfw ? { nsfw: job.result.nsfw } : {}),
          ...(job.result.engineAttempts ? { engineAttempts: job.result.engineAttempts } : {}),
          ...(job.result.upstreamCostUsd === undefined ? {} : { upstreamCostUsd: job.result.upstreamCostUsd }),
          ...(job.result.upstreamIds ? { upstreamIds: job.result.upstreamIds } : {}),
          ...(job.result.notHonoured ? { notHonoured: job.result.notHonoured } : {}),
        }
      : null,
    error: job.error,
    cost: { usd: formatUsd(job.costMicros), charged: job.state === 'succeeded' && job.costMicros > 0 },
    engine: job.engine,
    attempts: job.attempts,
    createdAt: job.createdAt.toISOString(),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    /** When retention deleted its images and scrubbed its prompt and inputs (then `result.images` is empty). */
    prunedAt: iso(job.prunedAt ?? null),
    favourite: Boolean(job.favouriteAt),
  }
}

export type RenderedJob = ReturnType<typeof renderJob>

export function renderNativeError(error: FluxhostError, requestId: string): { status: number; body: unknown } {
  return {
    status: error.status,
    body: {
      error: {
        code: error.code,
        message: error.message,
        ...(error.issues.length > 0 ? { issues: error.issues } : {}),
        ...(error.retryAfterS !== undefined ? { retryAfterS: error.retryAfterS } : {}),
        requestId,
      },
    },
  }
}
