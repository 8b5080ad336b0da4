import type { FastifyReply, FastifyRequest } from 'fastify'
import { validationError } from '../../../domain/errors.js'
import type { Job } from '../../../domain/job.js'
import { keyOf, requireKey } from '../../auth.js'
import type { ApiDeps } from '../../deps.js'
import { dialectErrorHandler, toFluxhostError } from '../../errors.js'
import { abandonIdempotency, idempotent, keyHold, noteJob, settleIdempotency } from '../../idempotency.js'
import { noteQuota } from '../../limits.js'
import { simulationFrom, withFieldNames } from '../../request-input.js'
import type { RoutesPlugin } from '../../schema-types.js'
import { leaveForRetry } from '../../unanswered.js'
import { urlContext } from '../../urls.js'
import { jobFailed, shouldRetry } from './job-errors.js'
import { registerModelRoutes } from './models.js'
import { jobFields, renderAimlError, renderGenerations } from './render.js'
import { readAimlRequest } from './request.js'
import { generationsBody, generationsResponse } from './schemas.js'
import { sdkAttempt } from './sdk-retries.js'
import { streamAnswer } from './stream.js'
import { waitWhileHeard } from './wait.js'

/** How an answer is given: what the body asked for, read with care on replays (before validation). */
interface Asked {
  b64: boolean
  stream: boolean
}

const askedBy = (body: unknown): Asked => {
  const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  return { b64: fields.response_format === 'b64_json', stream: fields.stream === true }
}

/** How long after a try's answer went missing a retry may still join its job: past any SDK's backoff. */
const RETRY_MARGIN_MS = 60_000

/**
 * AIML's `POST /v1/images/generations` (seed 004), synchronous: the job runs like any other
 * and this request waits for it, answering in AIML's and OpenAI's shapes at once, so the
 * `openai` npm client works unchanged (with OpenAI's streaming, sizes and `GET /v1/models`).
 * A client that hangs up does not cancel the job. One SDK call is at most one job: answers
 * from a job say `x-should-retry: false` (job-errors.ts), and a job whose answer never reached
 * its client (it left, or the wait timed out) is left for the retry of the same call to join
 * (`leaveForRetry`/`joinUnanswered` in ../../unanswered.ts; the SDK's mark: sdk-retries.ts).
 */
export const aimlRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer, blobs } = deps
  const base = (request: FastifyRequest) => urlContext(request, config.publicUrl, signer).base
  const render = dialectErrorHandler((error, request) => renderAimlError(error, jobFields(error, base(request))))
  app.setErrorHandler((error, request, reply) => {
    // Once the call has its job (answer() named it), a retry could only make another.
    const fx = toFluxhostError(error)
    // Once the call has its job a retry could only make another; but after a shutdown the
    // retry (on another process) joins the job left for it.
    const hasJob = reply.hasHeader('x-fluxhost-job-id') && fx.code !== 'SHUTTING_DOWN'
    if (hasJob || !shouldRetry(fx)) void reply.header('x-should-retry', 'false')
    return render(error, request, reply)
  })
  // A shutdown ends every wait with a 503 and leaves its job for the retry.
  const closing = new AbortController()
  app.addHook('preClose', (done) => {
    closing.abort()
    done()
  })
  const timeoutMs = config.syncTimeoutS * 1000

  /** Nobody to answer: a retry with the same Idempotency-Key, or the call's retry, gets this job's result. */
  const unheard = async (request: FastifyRequest, jobId: string) => {
    await settleIdempotency(request, { status: 499, body: null, contentType: null })
    await leaveForRetry(request, jobId, 'left')
  }

  /**
   * Waits for the job while its client is there: the finished job, or undefined when the
   * client left. Whenever the answer will not reach the client (it left, the wait timed out,
   * the process is shutting down), the job is left for the call's retry (unanswered.ts).
   */
  const waitOrLeave = async (request: FastifyRequest, jobId: string): Promise<Job | undefined> => {
    let done: Job | 'left'
    try {
      done = await waitWhileHeard(services, request, jobId, timeoutMs, closing.signal)
    } catch (error) {
      const code = toFluxhostError(error).code
      if (code === 'SYNC_TIMEOUT') await leaveForRetry(request, jobId, 'timed-out')
      if (code === 'SHUTTING_DOWN') await leaveForRetry(request, jobId, 'shutdown')
      throw error
    }
    if (done !== 'left') return done
    await unheard(request, jobId)
    return undefined
  }
  app.addHook('onRequest', requireKey(services.keys))
  registerModelRoutes(app)

  /**
   * Waits for the job and answers with its images, or its error; with `stream`, as events.
   * Waiting stops when the time is up or the client leaves; the job goes on either way.
   * Replays of an Idempotency-Key, and SDK retries, answer through here too, from the job.
   */
  const answer = async (request: FastifyRequest, reply: FastifyReply, jobId: string, asked: Asked) => {
    void reply.header('x-fluxhost-job-id', jobId)
    if (asked.stream) return streamAnswer({ blobs, waitOrLeave, base: base(request) }, request, reply, jobId)
    const done = await waitOrLeave(request, jobId)
    if (!done) return reply.hijack()
    if (done.state !== 'succeeded') throw jobFailed(done)
    const b64 = asked.b64
      ? await Promise.all(done.result.images.map(async (image) => (await blobs.read(image.key)) ?? Buffer.alloc(0)))
      : undefined
    // It left while the images were read: its retry gets them.
    if (request.raw.socket.destroyed) {
      await unheard(request, jobId)
      return reply.hijack()
    }
    return reply.code(201).send(renderGenerations(done, urlContext(request, config.publicUrl, signer), b64))
  }

  app.post(
    '/v1/images/generations',
    {
      schema: {
        tags: ['AIML / OpenAI images'],
        security: [{ bearer: [] }],
        summary: 'Generate and wait for the images (synchronous, or streamed as OpenAI does)',
        body: generationsBody,
        response: generationsResponse,
      },
      ...idempotent({
        service: services.idempotency,
        // The first request may wait up to the sync timeout; only then is it presumed dead.
        lockMs: (config.syncTimeoutS + 60) * 1000,
        rerender: true,
        replayJob: async (request, reply, jobId) => {
          await answer(request, reply, jobId, askedBy(request.body))
          return reply
        },
        sdkRetries: {
          attemptOf: sdkAttempt,
          windowMs: config.syncTimeoutS * 1000 + RETRY_MARGIN_MS,
          onEvent: (event) => deps.metrics.unanswered.inc({ event: event === 'timed-out' ? 'timed_out' : event }),
        },
      }),
    },
    async (request, reply) => {
      const body = request.body
      const read = readAimlRequest(body)
      if ('issues' in read) throw validationError(read.issues)
      const { model, width, height, safetyTolerance, numImages, sizeField, quality } = read.request
      if (request.raw.socket.destroyed) {
        // The client left before its job was made (its SDK's timeout): make none, or its retry
        // would find no job to join and make a second.
        await abandonIdempotency(request)
        reply.hijack()
        return
      }
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
              output: { format: body.output_format, quality },
              simulate: simulationFrom(request),
            },
            idempotency: keyHold(request),
            onQuota: noteQuota(request),
          }),
      )
      noteJob(request, job.id)
      return answer(request, reply, job.id, askedBy(body))
    },
  )
}
