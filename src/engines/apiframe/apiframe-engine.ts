import { ENGINE_MODELS } from '../../domain/engines.js'
import type { EngineContext, EngineOutput, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import { eachImage } from '../per-image.js'
import { createTaskTimer, pollUntil } from '../poll.js'
import type { ProviderEngineOptions } from '../provider-options.js'
import { createSemaphore } from '../upstream.js'
import { createUpstreamClient, describeBody } from '../upstream-client.js'
import { apiframeRequest } from './request.js'

/** The Job schema of Apiframe's OpenAPI, as far as it is read here. */
interface Job {
  id?: string
  status?: string
  progress?: number | null
  /** Its shape is not specified: docs show a URL string and an object `{images: [url, …]}`. */
  result?: unknown
  error?: unknown
  expired?: boolean
}

/**
 * Apiframe's error text for a job the model's provider refused on content grounds ("Provider
 * returned an error: content policy violation"). Apiframe has no moderation status, and its
 * wording is not a documented contract: this match is an assumption.
 */
const CONTENT_POLICY = /content[ _-]?polic|moderat|nsfw|flagged/i

/** The first image URL of a COMPLETED job's `result`, in any shape Apiframe's docs show. */
function resultUrl(result: unknown): string | undefined {
  if (typeof result === 'string') return result || undefined
  if (Array.isArray(result)) return resultUrl(result[0])
  if (result && typeof result === 'object') {
    const { images, url } = result as { images?: unknown; url?: unknown }
    return resultUrl(images) ?? resultUrl(url)
  }
  return undefined
}

/**
 * Apiframe v2 as a client: submit `POST /v2/images/generate` (202 `{jobId}`), poll `GET
 * /v2/jobs/{id}`, download the result at once (its CDN files are purged after about a day).
 * One image per job, each with an `Idempotency-Key` so a replay returns the job it made.
 * Apiframe has no cancel: a canceled job stops polling, and the upstream job runs on.
 */
export function createApiframeEngine(options: ProviderEngineOptions): ImageEngine & { active(): number } {
  const slots = createSemaphore(options.maxActive, 'Apiframe')
  const pollMin = options.pollMinMs ?? 500
  // Apiframe suggests 2–3 s between polls for images; ours are shorter unless configured.
  const pollMax = options.pollMaxMs ?? Math.max(1000, pollMin)
  const timer = createTaskTimer({ pollMinMs: pollMin, pollMaxMs: pollMax })
  const taskTimeout = options.taskTimeoutMs ?? 10 * 60_000
  const http = createUpstreamClient({
    provider: 'Apiframe',
    base: options.baseUrl,
    headers: { 'x-api-key': options.apiKey },
    timeoutMs: options.requestTimeoutMs,
    download: options.download,
  })

  const submit = async (body: unknown, idempotencyKey: string, signal: AbortSignal): Promise<string> => {
    const answer = await http.send('POST', '/v2/images/generate', {
      signal,
      body,
      submit: true,
      headers: { 'idempotency-key': idempotencyKey },
    })
    const ids = { requestId: answer.requestId }
    if (answer.status === 401 || answer.status === 403)
      throw new EngineError(
        'unavailable',
        `Apiframe refused the API key (${answer.status}): ${describeBody(answer)}; check FLUXHOST_APIFRAME_KEY`,
        ids,
      )
    if (answer.status === 402) {
      const { creditsRequired, creditsAvailable } = (answer.json ?? {}) as Record<string, unknown>
      const counts =
        typeof creditsRequired === 'number' ? ` (${String(creditsAvailable)} of ${creditsRequired} credits)` : ''
      throw new EngineError('insufficient_credits', `the Apiframe team has too few credits${counts}`, ids)
    }
    // A reused key with another body (an earlier attempt of this job sent a different prompt):
    // that job is not this request's, and a new key could bill twice.
    if (answer.status === 409)
      throw new EngineError(
        'failed',
        `Apiframe already has a job under Idempotency-Key ${idempotencyKey} for another request (409): ` +
          describeBody(answer),
        ids,
      )
    if (answer.status < 200 || answer.status > 299) throw http.statusError(answer, { what: 'the submit', submit: true })
    const jobId = (answer.json as { jobId?: unknown } | undefined)?.jobId
    if (typeof jobId !== 'string' || jobId === '')
      throw new EngineError('failed', 'Apiframe accepted the submit without a jobId', { ...ids, submitLost: true })
    return jobId
  }

  /** The result URL of a COMPLETED job (undefined while it runs); throws for the other endings. */
  const outcome = (jobId: string, job: Job, progress: (fraction: number) => void): string | undefined => {
    const id = { requestId: jobId }
    const error = typeof job.error === 'string' ? job.error : JSON.stringify(job.error ?? null)
    switch (job.status) {
      case 'QUEUED':
        return undefined
      case 'PROCESSING':
        // The spec's scale is 0–100.
        if (typeof job.progress === 'number') progress(Math.min(0.99, Math.max(0, job.progress / 100)))
        return undefined
      case 'COMPLETED': {
        const url = resultUrl(job.result)
        if (job.expired) throw new EngineError('failed', `Apiframe has already purged job ${jobId}'s files`, id)
        if (!url) throw new EngineError('failed', 'Apiframe said COMPLETED without a result URL', id)
        return url
      }
      case 'FAILED':
        if (CONTENT_POLICY.test(error))
          throw new EngineError(
            'content_moderated',
            `Apiframe refused the job on content policy: ${error.slice(0, 200)}`,
            id,
          )
        throw new EngineError('failed', `Apiframe's job failed: ${error.slice(0, 300)}`, id)
      case 'CANCELLED':
        throw new EngineError('failed', `Apiframe cancelled job ${jobId}`, id)
      default:
        throw new EngineError('failed', `Apiframe answered an unknown status '${String(job.status).slice(0, 40)}'`, id)
    }
  }

  const follow = (jobId: string, ctx: EngineContext, started: number, kind = ''): Promise<string> => {
    let ended = false
    return pollUntil(
      async () => {
        const answer = await http.send('GET', `/v2/jobs/${encodeURIComponent(jobId)}`, { signal: ctx.signal })
        if (answer.status === 404) throw new EngineError('failed', `Apiframe no longer knows job ${jobId}`)
        if (answer.status !== 200) throw http.statusError(answer, { what: 'the job read' })
        const job = answer.json as Job | undefined
        if (!job?.status)
          throw new EngineError('unavailable', `Apiframe answered the job read with no status: ${describeBody(answer)}`)
        ended = ['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.status)
        return outcome(jobId, job, ctx.progress)
      },
      {
        signal: ctx.signal,
        ...timer.schedule(started, undefined, kind),
        timeoutMs: taskTimeout,
        what: "Apiframe's job",
      },
    ).catch((error: unknown) => {
      if (ended || !(error instanceof EngineError)) throw error
      const runsOn = `Apiframe has no cancel: job ${jobId} runs on and may be billed`
      if (error.kind === 'canceled')
        throw new EngineError('canceled', `canceled while Apiframe ran it; ${runsOn}`, { requestId: jobId })
      throw new EngineError(error.kind, `${error.message}; ${runsOn}`, {
        cause: error,
        submitLost: error.submitLost,
        retryAfterMs: error.retryAfterMs,
        requestId: error.requestId ?? jobId,
      })
    })
  }

  return {
    name: 'apiframe',
    local: false,
    // fluxParams.prompt_upsampling is BFL's own, for both models.
    upsamplesPrompts: true,
    cancelsUpstream: false,
    // fluxParams.image_prompt takes a URL only; fluxhost has none to give for the stored bytes.
    takesImagePrompt: false,
    supports: (model) => ENGINE_MODELS.apiframe.includes(model),
    active: () => slots.active(),
    /** GET /v2/me: a free read that proves the key and tells the team's credits. */
    async check(signal) {
      try {
        const answer = await http.send('GET', '/v2/me', { signal, timeoutMs: 10_000 })
        if (answer.status === 200) {
          const credits = (answer.json as { team?: { credits?: unknown } | null } | undefined)?.team?.credits
          return { reachable: true, detail: typeof credits === 'number' ? `credits ${credits}` : 'key accepted' }
        }
        if (answer.status === 401 || answer.status === 403)
          return { reachable: false, detail: `key refused (${answer.status})` }
        return { reachable: false, detail: `answered ${answer.status}` }
      } catch (error) {
        return { reachable: false, detail: `could not connect: ${(error as Error).message}` }
      }
    },
    async generate(task, ctx): Promise<EngineOutput> {
      throwIfAborted(ctx.signal)
      const request = apiframeRequest(task)
      const ids: string[] = []
      // No count field: more images are more jobs, one after the other, seeds counting up.
      const { made: images, short } = await eachImage(task, ctx, slots, async (i, progress) => {
        const body = { ...request.body, fluxParams: { ...request.body.fluxParams, seed: task.seed + i } }
        // The same job's same image has the same key: a resubmit (a later attempt of the
        // job) within Apiframe's 24 h gets the job it already made, not a second bill.
        const started = Date.now()
        const jobId = await submit(body, `fluxhost-${task.jobId}-${i}`, ctx.signal)
        ids.push(jobId)
        const url = await follow(jobId, { signal: ctx.signal, progress }, started, task.model)
        return { kind: 'encoded' as const, data: await http.download(url, ctx.signal) }
      })
      const price = options.pricesUsd[task.model]
      return {
        images,
        upstreamIds: ids,
        ...(price === undefined ? {} : { upstreamCostUsd: Math.round(price * images.length * 10_000) / 10_000 }),
        ...(request.notHonoured.length > 0 || short
          ? { notHonoured: [...request.notHonoured, ...(short ? ['num_images'] : [])] }
          : {}),
      }
    },
  }
}
