import { ENGINE_MODELS } from '../../domain/engines.js'
import type { EngineContext, EngineOutput, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import { eachImage } from '../per-image.js'
import { createTaskTimer, pollUntil } from '../poll.js'
import type { ProviderEngineOptions } from '../provider-options.js'
import { createSemaphore } from '../upstream.js'
import { createUpstreamClient, describeBody } from '../upstream-client.js'
import { replicateRequest } from './input.js'
import { createReplicateVerifier } from './push.js'

export interface ReplicateEngineOptions extends ProviderEngineOptions {
  /**
   * Sends `Prefer: wait=N` (1–60 s) with each create, so a fast prediction comes back
   * finished without a poll. Off by default: a create held open for seconds widens the window
   * in which a broken connection leaves a prediction that may run and be billed (submitLost).
   */
  preferWaitS?: number
  /** With a callback, the safety-net poll's first delay (default 2 s; it grows ×1.5 to 5×). */
  pushPollMs?: number
  /** The least time between two fetches of the webhook secret after a call it did not verify (default 30 s). */
  pushSecretRetryMs?: number
}

type Wake = (signal: AbortSignal) => Promise<void>

/** The prediction object (replicate-javascript's index.d.ts), as far as it is read here. */
interface Prediction {
  id: string
  status?: string
  output?: unknown
  error?: unknown
  logs?: string | null
  urls?: { get?: string; cancel?: string }
}

const ENDED = new Set(['succeeded', 'failed', 'canceled', 'aborted'])

/**
 * Replicate's predictions API with its official FLUX models: create a prediction, poll
 * `urls.get` (or get it finished at once with `Prefer: wait`), download the output at once
 * (API predictions' files are deleted after an hour). One image per prediction; a canceled
 * job or one that fails while its prediction runs cancels it through `urls.cancel`. With
 * provider callbacks, each create names a `webhook` for its `completed` event and polls are a
 * slow safety net that Replicate's signed call cuts short.
 */
export function createReplicateEngine(options: ReplicateEngineOptions): ImageEngine & { active(): number } {
  const slots = createSemaphore(options.maxActive, 'Replicate')
  const pollMin = options.pollMinMs ?? 500
  const pollMax = options.pollMaxMs ?? Math.max(1000, pollMin)
  const taskTimeout = options.taskTimeoutMs ?? 10 * 60_000
  const requestTimeout = options.requestTimeoutMs ?? 30_000
  const preferWait = Math.min(60, Math.max(0, Math.round(options.preferWaitS ?? 0)))
  const http = createUpstreamClient({
    provider: 'Replicate',
    base: options.baseUrl,
    headers: { authorization: `Bearer ${options.apiKey}` },
    timeoutMs: requestTimeout,
    download: options.download,
  })
  const timer = createTaskTimer({ pollMinMs: pollMin, pollMaxMs: pollMax, pushPollMs: options.pushPollMs })
  const verifyPush = createReplicateVerifier(http, { retryMs: options.pushSecretRetryMs })

  /** `hook`: Replicate POSTs the finished prediction there, signed (FLUXHOST_PROVIDER_WEBHOOKS). */
  const create = async (model: string, input: Record<string, unknown>, signal: AbortSignal, hook?: string) => {
    const answer = await http.send('POST', `/v1/models/${model}/predictions`, {
      signal,
      body: { input, ...(hook ? { webhook: hook, webhook_events_filter: ['completed'] } : {}) },
      submit: true,
      ...(preferWait > 0
        ? { headers: { prefer: `wait=${preferWait}` }, timeoutMs: requestTimeout + preferWait * 1000 }
        : {}),
    })
    if (answer.status === 401 || answer.status === 403)
      throw new EngineError(
        'unavailable',
        `Replicate refused the API token (${answer.status}); check FLUXHOST_REPLICATE_TOKEN`,
        { requestId: answer.requestId },
      )
    if (answer.status < 200 || answer.status > 299)
      throw http.statusError(answer, { what: 'the prediction create', submit: true })
    const prediction = answer.json as Prediction | undefined
    if (typeof prediction?.id !== 'string')
      throw new EngineError('failed', 'Replicate answered the create without a prediction id', { submitLost: true })
    return prediction
  }

  /** Cancels a prediction that may still run; best effort, never throws. */
  const cancel = async (prediction: Prediction): Promise<boolean> => {
    try {
      const target = prediction.urls?.cancel ?? `/v1/predictions/${encodeURIComponent(prediction.id)}/cancel`
      const answer = await http.send('POST', target, { signal: AbortSignal.timeout(5_000), timeoutMs: 5_000 })
      return answer.status >= 200 && answer.status < 300
    } catch {
      return false
    }
  }

  /** The output URL of a prediction that succeeded (undefined while it runs); throws for the other endings. */
  const outcome = (prediction: Prediction, progress: (fraction: number) => void): string | undefined => {
    const id = { requestId: prediction.id }
    const error = typeof prediction.error === 'string' ? prediction.error : JSON.stringify(prediction.error ?? null)
    switch (prediction.status) {
      case 'starting':
        progress(0.05)
        return undefined
      case 'processing':
        progress(0.1 + 0.85 * logProgress(prediction.logs))
        return undefined
      case 'succeeded': {
        // flux-1.1-pro and ultra give one URI; flux-dev a list of them (one, as num_outputs is 1).
        const url = Array.isArray(prediction.output) ? prediction.output[0] : prediction.output
        if (typeof url !== 'string' || url === '')
          throw new EngineError('failed', 'Replicate said succeeded without an output URL', id)
        return url
      }
      case 'failed':
        // Replicate names one error (E005) for a flagged input and a flagged output alike: it
        // cannot be told which, so both count as the output's (content_moderated).
        if (/\bE005\b|NSFW|flagged as sensitive/i.test(error))
          throw new EngineError(
            'content_moderated',
            `Replicate flagged the input or output: ${error.slice(0, 200)}`,
            id,
          )
        throw new EngineError('failed', `Replicate's prediction failed: ${error.slice(0, 300)}`, id)
      case 'canceled':
      case 'aborted':
        throw new EngineError('failed', `Replicate's prediction was ${prediction.status} there`, id)
      default:
        throw new EngineError(
          'failed',
          `Replicate answered an unknown status '${String(prediction.status).slice(0, 40)}'`,
          id,
        )
    }
  }

  /** One prediction from create to its output URL, canceled there when it does not end well. */
  const run = async (
    model: string,
    input: Record<string, unknown>,
    ids: string[],
    ctx: EngineContext,
    task: number,
  ) => {
    const push = ctx.push
    const wake: Wake | undefined = push ? (signal) => push.wake('replicate', task, signal) : undefined
    const started = Date.now()
    let prediction = await create(model, input, ctx.signal, push?.url('replicate', task))
    ids.push(prediction.id)
    try {
      const now = outcome(prediction, ctx.progress)
      if (now) return now
      const getUrl = prediction.urls?.get ?? `/v1/predictions/${encodeURIComponent(prediction.id)}`
      const url = await pollUntil(
        async () => {
          const answer = await http.send('GET', getUrl, { signal: ctx.signal })
          if (answer.status === 404)
            throw new EngineError('failed', `Replicate no longer knows prediction ${prediction.id}`)
          if (answer.status !== 200) throw http.statusError(answer, { what: 'the prediction read' })
          const read = answer.json as Prediction | undefined
          if (!read?.status)
            throw new EngineError(
              'unavailable',
              `Replicate answered the prediction read with no status: ${describeBody(answer)}`,
            )
          prediction = { ...prediction, ...read }
          return outcome(prediction, ctx.progress)
        },
        {
          signal: ctx.signal,
          ...timer.schedule(started, wake, model),
          timeoutMs: taskTimeout,
          what: "Replicate's prediction",
        },
      )
      return url
    } catch (error) {
      if (ENDED.has(prediction.status ?? '')) throw error
      const canceled = await cancel(prediction)
      const there = canceled
        ? `prediction ${prediction.id} was canceled there`
        : `prediction ${prediction.id} could not be canceled there and may run on and be billed`
      if (ctx.signal.aborted)
        throw new EngineError('canceled', `canceled while Replicate ran it; ${there}`, { requestId: prediction.id })
      if (!(error instanceof EngineError)) throw error
      throw new EngineError(error.kind, `${error.message}; ${there}`, {
        cause: error,
        submitLost: error.submitLost && !canceled,
        retryAfterMs: error.retryAfterMs,
        requestId: error.requestId ?? prediction.id,
      })
    }
  }

  return {
    name: 'replicate',
    local: false,
    cancelsUpstream: true,
    // image_prompt takes a data URI, so the stored bytes go with the create.
    // flux-dev's `image` is image-to-image, not an image prompt.
    takesImagePrompt: (model) => model !== 'flux-dev',
    supports: (model) => ENGINE_MODELS.replicate.includes(model),
    verifyPush,
    active: () => slots.active(),
    /** GET /v1/account: free, and proves the token is accepted. */
    async check(signal) {
      try {
        const answer = await http.send('GET', '/v1/account', { signal, timeoutMs: 10_000 })
        if (answer.status === 200) {
          const username = (answer.json as { username?: unknown } | undefined)?.username
          return { reachable: true, detail: typeof username === 'string' ? `account ${username}` : 'token accepted' }
        }
        if (answer.status === 401 || answer.status === 403)
          return { reachable: false, detail: `token refused (${answer.status})` }
        return { reachable: false, detail: `answered ${answer.status}` }
      } catch (error) {
        return { reachable: false, detail: `could not connect: ${(error as Error).message}` }
      }
    },
    async generate(task, ctx): Promise<EngineOutput> {
      throwIfAborted(ctx.signal)
      const request = replicateRequest(task)
      const ids: string[] = []
      // One image per prediction (flux-dev's num_outputs would share one seed): more images
      // are more predictions, one after the other, seeds counting up as BFL's engine does.
      const { made: images, short } = await eachImage(task, ctx, slots, async (i, progress) => {
        const input = { ...request.input, seed: task.seed + i }
        const url = await run(request.model, input, ids, { signal: ctx.signal, progress, push: ctx.push }, i)
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

/** The last `N%|` of a progress bar in the logs (flux-dev's sampler), 0–1; 0 when there is none. */
function logProgress(logs: string | null | undefined): number {
  if (!logs) return 0
  const tail = logs.slice(-2_000)
  const matches = [...tail.matchAll(/(\d{1,3})%\|/g)]
  const last = matches.at(-1)?.[1]
  return last === undefined ? 0 : Math.min(1, Number(last) / 100)
}
