import type { FastifyReply, FastifyRequest } from 'fastify'
import { FluxhostError, jobFailure, validationError } from '../../../domain/errors.js'
import type { Job } from '../../../domain/job.js'
import { keyOf, requireKey } from '../../auth.js'
import type { ApiDeps } from '../../deps.js'
import { dialectErrorHandler } from '../../errors.js'
import { idempotent, keyHold, noteJob, settleIdempotency } from '../../idempotency.js'
import { noteQuota } from '../../limits.js'
import { simulationFrom, withFieldNames } from '../../request-input.js'
import type { RoutesPlugin } from '../../schema-types.js'
import { urlContext } from '../../urls.js'
import { renderAimlError, renderGenerations } from './render.js'
import { readAimlRequest } from './request.js'
import { type GenerationsBody, generationsBody, generationsResponse } from './schemas.js'

class SyncTimeout extends FluxhostError {
  constructor(readonly jobId: string) {
    super('SYNC_TIMEOUT')
  }
}

/**
 * AIML's `POST /v1/images/generations` (seed 004), synchronous: the job runs like any other
 * and this request waits for it, answering in AIML's and OpenAI's shapes at once, so the
 * `openai` npm client works unchanged. A client that hangs up does not cancel the job.
 */
export const aimlRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer, blobs } = deps
  app.setErrorHandler(
    dialectErrorHandler((error, request) => {
      if (error instanceof SyncTimeout) {
        const base = urlContext(request, config.publicUrl, signer).base
        return renderAimlError(error, { job_id: error.jobId, url: `${base}/api/jobs/${error.jobId}` })
      }
      return renderAimlError(error)
    }),
  )
  app.addHook('onRequest', requireKey(services.keys))

  /**
   * Waits for the job and answers with its images, or its error. Waiting stops when the time
   * is up or the client leaves; the job goes on either way. Replays of an Idempotency-Key
   * answer through here too, from the job the first request made.
   */
  const answer = async (
    request: FastifyRequest,
    reply: FastifyReply,
    jobId: string,
    responseFormat: GenerationsBody['response_format'],
  ) => {
    const timeout = AbortSignal.timeout(config.syncTimeoutS * 1000)
    const gone = new AbortController()
    const onClose = () => gone.abort()
    request.raw.socket.once('close', onClose)
    // A client that left before we started listening never fires 'close' for us.
    if (request.raw.socket.destroyed) onClose()
    let done: Job
    try {
      done = await services.jobs.wait(jobId, keyOf(request), AbortSignal.any([timeout, gone.signal]))
    } catch (error) {
      if (timeout.aborted) throw new SyncTimeout(jobId)
      if (gone.signal.aborted) {
        // Nobody to answer; a retry with the same Idempotency-Key gets this job's result.
        await settleIdempotency(request, { status: 499, body: null, contentType: null })
        reply.hijack()
        return
      }
      throw error
    } finally {
      request.raw.socket.off('close', onClose)
    }
    if (done.state !== 'succeeded') throw jobFailure(done.error)
    const b64 =
      responseFormat === 'b64_json'
        ? await Promise.all(done.result.images.map(async (image) => (await blobs.read(image.key)) ?? Buffer.alloc(0)))
        : undefined
    return reply.code(201).send(renderGenerations(done, urlContext(request, config.publicUrl, signer), b64))
  }

  app.post(
    '/v1/images/generations',
    {
      schema: {
        tags: ['AIML / OpenAI images'],
        security: [{ bearer: [] }],
        summary: 'Generate and wait for the images (synchronous)',
        body: generationsBody,
        response: generationsResponse,
      },
      ...idempotent({
        service: services.idempotency,
        // The first request may wait up to the sync timeout; only then is it presumed dead.
        lockMs: (config.syncTimeoutS + 60) * 1000,
        rerender: true,
        replayJob: async (request, reply, jobId) => {
          // A replay is answered before validation: read the one field it needs with care.
          const asked = (request.body as { response_format?: unknown } | null | undefined)?.response_format
          await answer(request, reply, jobId, asked === 'b64_json' ? 'b64_json' : 'url')
          return reply
        },
      }),
    },
    async (request, reply) => {
      const body = request.body
      const read = readAimlRequest(body)
      if ('issues' in read) throw validationError(read.issues)
      const { model, width, height, safetyTolerance, numImages, sizeField } = read.request
      const sizeLoc = (side: 'width' | 'height') => (sizeField === 'size' ? ['size'] : ['image_size', side])
      const job = await withFieldNames(
        { width: sizeLoc('width'), height: sizeLoc('height'), numImages: ['num_images'] },
        () =>
          services.jobs.create({
            apiKey: keyOf(request),
            dialect: 'aiml',
            request: {
              model,
              prompt: body.prompt,
              width,
              height,
              seed: body.seed,
              numImages,
              promptUpsampling: false,
              raw: false,
              safetyTolerance,
              safetyChecker: body.enable_safety_checker,
              // As AIML and fal do: a flagged image comes back black, with has_nsfw_concepts true.
              flaggedOutput: 'blackout',
              output: { format: body.output_format, quality: 90 },
              simulate: simulationFrom(request),
            },
            idempotency: keyHold(request),
            onQuota: noteQuota(request),
          }),
      )
      noteJob(request, job.id)
      return answer(request, reply, job.id, body.response_format)
    },
  )
}
