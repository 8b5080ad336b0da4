import { ENGINE_MODELS } from '../../domain/engines.js'
import type { EngineContext, EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import { createTaskTimer, pollUntil } from '../poll.js'
import type { ProviderEngineOptions } from '../provider-options.js'
import { createSemaphore } from '../upstream.js'
import { createUpstreamClient, describeBody, type StatusRules, type UpstreamAnswer } from '../upstream-client.js'
import { falInput, ownerApp } from './input.js'
import { createFalVerifier, FAL_JWKS_URL } from './push.js'
import { cancelQueued, followAccepted } from './queue.js'

interface QueueUrls {
  id: string
  status: string
  response: string
  cancel: string
}

interface FalStatus {
  status?: string
  queue_position?: number
}

interface FalOutput {
  images?: { url?: string }[]
  has_nsfw_concepts?: boolean[]
  prompt?: string
}

export interface FalEngineOptions extends ProviderEngineOptions {
  /** With a callback, the safety-net poll's first delay (default 2 s; it grows ×1.5 to 5×). */
  pushPollMs?: number
  /** fal's webhook keys (FLUXHOST_FAL_JWKS_URL); default fal's own. */
  jwksUrl?: string
  /** The least time between two JWKS fetches after a call no cached key verified (default 30 s). */
  jwksRetryMs?: number
}

type Wake = (signal: AbortSignal) => Promise<void>

/** A request id no one has: reading its status costs nothing and says whether the key is taken. */
const PROBE_ID = '00000000-0000-4000-8000-000000000000'

/** fal's own error type for inputs its checker (or the model's) refused, in a 422's `detail` list. */
function flaggedInput(answer: UpstreamAnswer): boolean {
  const detail = (answer.json as { detail?: unknown } | undefined)?.detail
  if (Array.isArray(detail))
    return detail.some((item) => (item as { type?: unknown } | null)?.type === 'content_policy_violation')
  return typeof detail === 'string' && /content[ _]?polic|flagged by a content checker/i.test(detail)
}

/**
 * fal.ai's queue (queue.fal.run): POST the model id, follow the returned status URL (202
 * while queued or running, 200 once COMPLETED), then GET the response URL; a run that failed
 * still ends COMPLETED and its error is the result's non-2xx answer. fal documents that a 5xx
 * to a submit created nothing (not charged), so that one fails over; a lost answer does not.
 * With provider callbacks, the submit names a `fal_webhook` and polls are a slow safety net
 * that fal's signed call cuts short.
 */
export function createFalEngine(options: FalEngineOptions): ImageEngine {
  const slots = createSemaphore(options.maxActive, 'fal')
  const pollMin = options.pollMinMs ?? 500
  const pollMax = options.pollMaxMs ?? Math.max(1000, pollMin)
  const taskTimeout = options.taskTimeoutMs ?? 10 * 60_000
  const http = createUpstreamClient({
    provider: 'fal',
    base: options.baseUrl,
    headers: { authorization: `Key ${options.apiKey}` },
    timeoutMs: options.requestTimeoutMs,
    download: options.download,
    requestIdHeaders: ['x-fal-request-id', 'x-request-id'],
  })
  const timer = createTaskTimer({ pollMinMs: pollMin, pollMaxMs: pollMax, pushPollMs: options.pushPollMs })
  const verifyPush = createFalVerifier({ url: options.jwksUrl ?? FAL_JWKS_URL, retryMs: options.jwksRetryMs })

  /** fal's answers that the standard mapping would get wrong: a locked account, a flagged input. */
  const refusal = (answer: UpstreamAnswer, rules: StatusRules): EngineError => {
    const said = describeBody(answer)
    const ids = { requestId: answer.requestId }
    if (answer.status === 403 && /exhausted balance/i.test(said))
      return new EngineError('insufficient_credits', `fal locked the account for lack of balance (403): ${said}`, ids)
    if (answer.status === 401 || answer.status === 403)
      return new EngineError('unavailable', `fal refused the API key (${answer.status}); check FLUXHOST_FAL_KEY`, ids)
    if (answer.status === 422 && flaggedInput(answer))
      return new EngineError('request_moderated', `fal flagged the input: ${said}`, ids)
    return http.statusError(answer, rules)
  }

  /** `hook`: fal POSTs its signed call there when the request ends (FLUXHOST_PROVIDER_WEBHOOKS). */
  const submit = async (
    modelId: string,
    body: Record<string, unknown>,
    signal: AbortSignal,
    hook?: string,
  ): Promise<QueueUrls> => {
    const query = hook ? `?fal_webhook=${encodeURIComponent(hook)}` : ''
    const answer = await http.send('POST', `/${modelId}${query}`, { signal, body, submit: true })
    if (answer.status < 200 || answer.status >= 300)
      throw refusal(answer, { what: 'the submit', submit: true, notChargedOn5xx: true })
    const json = answer.json as Partial<Record<'request_id' | 'status_url' | 'response_url' | 'cancel_url', unknown>>
    const id = typeof json?.request_id === 'string' ? json.request_id : undefined
    if (!id) throw new EngineError('failed', 'fal accepted the submit without a request_id', { submitLost: true })
    // Prefer fal's URLs; built ones take only owner/app, as fal's documents say.
    const base = `/${ownerApp(modelId)}/requests/${encodeURIComponent(id)}`
    const pick = (value: unknown, fallback: string) => (typeof value === 'string' && value ? value : fallback)
    return {
      id,
      status: pick(json.status_url, `${base}/status`),
      response: pick(json.response_url, base),
      cancel: pick(json.cancel_url, `${base}/cancel`),
    }
  }

  /** The result of a COMPLETED request: its image URLs, or the run's failure. */
  const result = async (urls: QueueUrls, signal: AbortSignal): Promise<FalOutput> => {
    const answer = await http.send('GET', urls.response, { signal })
    if (answer.status >= 200 && answer.status < 300) {
      const output = answer.json as FalOutput | undefined
      if (!output || typeof output !== 'object')
        throw new EngineError('unavailable', `fal answered the result with no JSON: ${describeBody(answer)}`)
      return output
    }
    const said = describeBody(answer)
    if (flaggedInput(answer)) throw new EngineError('request_moderated', `fal flagged the input: ${said}`)
    if (answer.status === 401 || answer.status === 403 || answer.status === 429)
      throw http.statusError(answer, { what: 'the result read' })
    // A run's failure names its kind (error_type); a bare 5xx is the gateway, worth another read.
    const errorType =
      (answer.json as { error_type?: unknown } | undefined)?.error_type ?? answer.headers['x-fal-error-type']
    if (answer.status >= 500 && !errorType && answer.json === undefined)
      throw new EngineError('unavailable', `fal answered ${answer.status} to the result read: ${said}`)
    const kind = typeof errorType === 'string' ? ` (${errorType})` : ''
    throw new EngineError('failed', `fal's request failed${kind}, answering ${answer.status}: ${said}`)
  }

  const follow = (
    urls: QueueUrls,
    ctx: EngineContext,
    ended: () => void,
    started: number,
    wake?: Wake,
    kind = '',
  ): Promise<FalOutput> => {
    let running = false
    return pollUntil(
      async ({ hurry }) => {
        const answer = await http.send('GET', urls.status, { signal: ctx.signal })
        if (answer.status === 404) throw new EngineError('failed', `fal no longer knows request ${urls.id}`)
        if (answer.status !== 200 && answer.status !== 202) throw http.statusError(answer, { what: 'the status read' })
        const json = answer.json as FalStatus | undefined
        switch (json?.status) {
          case 'IN_QUEUE': {
            // Queued: a sliver of progress, more as the queue ahead of it shrinks.
            const ahead = typeof json.queue_position === 'number' ? Math.max(0, json.queue_position) : 0
            ctx.progress(0.05 / (1 + ahead))
            return undefined
          }
          case 'IN_PROGRESS':
            if (!running) {
              running = true
              // A request that just started may end soon: read again at the shortest delay.
              hurry()
            }
            ctx.progress(0.1)
            return undefined
          case 'COMPLETED':
            ended()
            ctx.progress(0.8)
            return result(urls, ctx.signal)
          case undefined:
            throw new EngineError('unavailable', `fal answered the status read with no status: ${describeBody(answer)}`)
          default:
            throw new EngineError('failed', `fal answered an unknown status '${String(json?.status).slice(0, 40)}'`)
        }
      },
      { signal: ctx.signal, ...timer.schedule(started, wake, kind), timeoutMs: taskTimeout, what: "fal's request" },
    )
  }

  const images = async (output: FalOutput, signal: AbortSignal, asked: number) => {
    // Shapes checked, and no more images than asked: a broken answer cannot crash or flood us.
    const list = (Array.isArray(output.images) ? output.images : []).slice(0, asked)
    const nsfw: unknown[] = Array.isArray(output.has_nsfw_concepts) ? output.has_nsfw_concepts : []
    const flagged = nsfw.filter((flag) => flag === true).length
    if (flagged > 0)
      throw new EngineError('content_moderated', `fal flagged ${flagged} of ${list.length} images (has_nsfw_concepts)`)
    const urls = list.map((image) => image?.url).filter((url): url is string => typeof url === 'string' && url !== '')
    if (urls.length === 0 || urls.length < list.length)
      throw new EngineError('failed', 'fal gave a result without image URLs')
    return Promise.all(urls.map(async (url) => ({ kind: 'encoded' as const, data: await http.download(url, signal) })))
  }

  return {
    name: 'fal',
    local: false,
    // flux-pro v1.1 and ultra take `enhance_prompt`; flux-dev does not, and reports it as not honoured.
    upsamplesPrompts: true,
    cancelsUpstream: true,
    // Ultra takes an image (as a data URI); the others report `image_prompt` as not honoured.
    // Only ultra takes one (`image_url`); pro 1.1 and dev have no image prompt at fal.
    takesImagePrompt: (model) => model === 'flux-pro-1.1-ultra',
    supports: (model) => ENGINE_MODELS.fal.includes(model),
    verifyPush,
    /** GET the status of a request no one made: 404 with a good key, 401/403 with a bad one, never billed. */
    async check(signal) {
      try {
        const answer = await http.send('GET', `/fal-ai/flux-pro/requests/${PROBE_ID}/status`, {
          signal,
          timeoutMs: 10_000,
        })
        if ([200, 202, 404].includes(answer.status)) return { reachable: true, detail: 'key accepted' }
        if (answer.status === 403 && /exhausted balance/i.test(describeBody(answer)))
          return { reachable: false, detail: 'account locked: exhausted balance (403)' }
        if (answer.status === 401 || answer.status === 403)
          return { reachable: false, detail: `key refused (${answer.status})` }
        return { reachable: false, detail: `answered ${answer.status}` }
      } catch (error) {
        return { reachable: false, detail: `could not connect: ${(error as Error).message}` }
      }
    },
    async generate(task: EngineTask, ctx: EngineContext): Promise<EngineOutput> {
      throwIfAborted(ctx.signal)
      const input = falInput(task)
      await slots.acquire(ctx.signal)
      try {
        const push = ctx.push
        // One fal request makes all the task's images: it is push task 0.
        const wake: Wake | undefined = push ? (signal) => push.wake('fal', 0, signal) : undefined
        const started = Date.now()
        const urls = await submit(input.modelId, input.body, ctx.signal, push?.url('fal', 0))
        const accepted = {
          provider: 'fal',
          id: urls.id,
          signal: ctx.signal,
          cancel: () => cancelQueued(http, urls.cancel),
        }
        return await followAccepted(accepted, async (ended) => {
          const output = await follow(urls, ctx, ended, started, wake, `${task.model}/${task.numImages}`)
          const done = await images(output, ctx.signal, task.numImages)
          ctx.progress(1)
          const price = options.pricesUsd[task.model]
          const rewritten = task.promptUpsampling && output.prompt && output.prompt !== task.prompt
          return {
            images: done,
            ...(rewritten ? { prompt: output.prompt } : {}),
            ...(price === undefined ? {} : { upstreamCostUsd: Math.round(price * done.length * 10_000) / 10_000 }),
            upstreamIds: [urls.id],
            ...(input.notHonoured.length > 0 ? { notHonoured: input.notHonoured } : {}),
          }
        })
      } finally {
        slots.release()
      }
    },
  }
}
