import type { FastifyReply, FastifyRequest } from 'fastify'
import type { BlobStore } from '../../../blobs/blob-store.js'
import type { Job } from '../../../domain/job.js'
import { toFluxhostError } from '../../errors.js'
import { settleIdempotency } from '../../idempotency.js'
import { setRateHeaders } from '../../limits.js'
import { JobAnswerError, jobFailed } from './job-errors.js'
import { jobFields, renderAimlError, renderCompletedEvent } from './render.js'

const KEEPALIVE_MS = 15_000

export interface StreamDeps {
  blobs: BlobStore
  /** Waits for the job, leaving it for a retry when its answer will not reach the client. */
  waitOrLeave(request: FastifyRequest, jobId: string): Promise<Job | undefined>
  /** The base URL the client used, for the job's URL in an error event. */
  base: string
}

/**
 * OpenAI's image streaming (`stream: true`): a 200 with server-sent events at once, then one
 * `image_generation.completed` event per image (b64_json) when the job succeeds, or an
 * `error` event (`{type: "error", error: {…, job_id}}`, which the SDKs throw) when it does
 * not or the wait outlives FLUXHOST_SYNC_TIMEOUT_S. No engine here shows previews, so there
 * are no `image_generation.partial_image` events. The SDKs never retry once a 2xx arrived.
 */
export async function streamAnswer(deps: StreamDeps, request: FastifyRequest, reply: FastifyReply, jobId: string) {
  // Written by hand (as the event stream of /api/jobs/:id/events is): a client that leaves
  // mid-stream is then no error of Fastify's, and nothing is sent after the head.
  reply.hijack()
  if (request.rateQuota) setRateHeaders(reply, request.rateQuota)
  const out = reply.raw
  out.on('error', () => {})
  out.writeHead(200, {
    // What the hooks set (x-request-id, nosniff, CORS, the job's id), which a hijacked reply would drop.
    ...(reply.getHeaders() as Record<string, string | number | string[]>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
  })
  // Sent now, not with the first event: the SDK's timeout runs until the head arrives.
  out.flushHeaders()
  // An Idempotency-Key's replay re-renders from the job (no bytes are kept).
  await settleIdempotency(request, { status: 200, body: null, contentType: 'text/event-stream' })
  const write = (event: string, data: unknown) => {
    if (!out.destroyed && !out.writableEnded) out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }
  const keepalive = setInterval(() => !out.destroyed && out.write(': keep-alive\n\n'), KEEPALIVE_MS)
  try {
    const done = await deps.waitOrLeave(request, jobId)
    if (!done) return
    if (done.state !== 'succeeded') throw jobFailed(done)
    for (const image of done.result.images) {
      const bytes = await deps.blobs.read(image.key)
      if (!bytes) throw new JobAnswerError(done.id, 'FILE_NOT_FOUND', 'The image was deleted (retention).')
      write('image_generation.completed', renderCompletedEvent(done, bytes))
    }
  } catch (error) {
    const fx = toFluxhostError(error)
    if (fx.status >= 500 && !(fx instanceof JobAnswerError)) request.log.error({ err: error }, 'stream failed')
    const { body } = renderAimlError(fx, jobFields(fx, deps.base))
    write('error', { type: 'error', ...(body as object) })
  } finally {
    clearInterval(keepalive)
    if (!out.destroyed) out.end()
  }
}
