import { ENGINE_MODELS } from '../../domain/engines.js'
import type { EngineContext, EngineImage, EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import { cancelQueued, followAccepted } from '../fal/queue.js'
import { eachImage } from '../per-image.js'
import { createTaskTimer, pollUntil } from '../poll.js'
import type { ProviderEngineOptions } from '../provider-options.js'
import { createSemaphore } from '../upstream.js'
import { createUpstreamClient, describeBody, type UpstreamAnswer } from '../upstream-client.js'
import { costOf, errorOf, imageUrlsOf, outcomeError, type SeaartBody, statusOf } from './response.js'

/** SeaArt's name for FLUX 1.1 [pro], its only FLUX model here. */
const MODEL = 'flux_pro_11'
const QUEUE = `/v1/queue/${MODEL}`
/** A request id no one has: reading its status costs nothing and says whether the key is taken. */
const PROBE_ID = 'mmsu_fluxhost_check'

interface QueueUrls {
  id: string
  status: string
  response: string
  cancel: string
}

/** One image's request, in the shape of seeds 000 and 001 (the bare parameter object). */
function submitBody(task: EngineTask, seed: number): Record<string, unknown> {
  return {
    // Seed 000 lists `model` as required; seed 001's example leaves it out. Sending it satisfies both.
    model: MODEL,
    prompt: task.prompt,
    width: task.width,
    height: task.height,
    seed,
    prompt_upsampling: task.promptUpsampling,
    safety_tolerance: task.safetyTolerance,
    // SeaArt makes jpeg and png; fluxhost converts png into webp.
    output_format: task.output.format === 'jpeg' ? 'jpeg' : 'png',
    ...(task.imagePrompt ? { image_prompt: task.imagePrompt.data.toString('base64') } : {}),
  }
}

/** Task fields SeaArt's flux_pro_11 has no parameter for. */
function notHonoured(task: EngineTask): string[] {
  return [
    ...(task.raw ? ['raw'] : []),
    ...(task.steps === undefined ? [] : ['steps']),
    ...(task.guidance === undefined ? [] : ['guidance']),
  ]
}

/**
 * SeaArt's model queue API (cloud.seaart.ai/model): POST /v1/queue/flux_pro_11, follow the
 * returned status URL, then GET the response URL (its `/response` suffix is SeaArt's, not
 * fal's). COMPLETED also ends failed runs: its `error`/`error_type` say why. One request per
 * image (no num_images). SeaArt does not document what a 5xx to a submit did, so that one is
 * taken as possibly billed and never re-sent.
 */
export function createSeaartEngine(options: ProviderEngineOptions): ImageEngine {
  const slots = createSemaphore(options.maxActive, 'SeaArt')
  const pollMin = options.pollMinMs ?? 500
  const pollMax = options.pollMaxMs ?? Math.max(1000, pollMin)
  const timer = createTaskTimer({ pollMinMs: pollMin, pollMaxMs: pollMax })
  const taskTimeout = options.taskTimeoutMs ?? 10 * 60_000
  const http = createUpstreamClient({
    provider: 'SeaArt',
    base: options.baseUrl,
    headers: { authorization: `Bearer ${options.apiKey}` },
    timeoutMs: options.requestTimeoutMs,
    download: options.download,
  })

  /** The account's balance is refused in words SeaArt does not pin down (402, or a 401/403 saying so). */
  const outOfCredit = (answer: UpstreamAnswer) =>
    answer.status === 402 ||
    ((answer.status === 401 || answer.status === 403) && /insufficient|balance|credit/i.test(describeBody(answer)))

  const submit = async (body: Record<string, unknown>, signal: AbortSignal): Promise<QueueUrls> => {
    const answer = await http.send('POST', QUEUE, { signal, body, submit: true })
    if (answer.status < 200 || answer.status >= 300) {
      const ids = { requestId: answer.requestId }
      if (outOfCredit(answer) && answer.status < 500)
        throw new EngineError('insufficient_credits', `the SeaArt account cannot pay: ${describeBody(answer)}`, ids)
      if (answer.status === 401 || answer.status === 403)
        throw new EngineError(
          'unavailable',
          `SeaArt refused the API key (${answer.status}); check FLUXHOST_SEAART_KEY`,
          ids,
        )
      throw http.statusError(answer, { what: 'the submit', submit: true })
    }
    const json = answer.json as Partial<Record<'request_id' | 'status_url' | 'response_url' | 'cancel_url', unknown>>
    const id = typeof json?.request_id === 'string' ? json.request_id : undefined
    if (!id) throw new EngineError('failed', 'SeaArt accepted the submit without a request_id', { submitLost: true })
    const base = `${QUEUE}/requests/${encodeURIComponent(id)}`
    const pick = (value: unknown, fallback: string) => (typeof value === 'string' && value ? value : fallback)
    return {
      id,
      status: pick(json.status_url, `${base}/status`),
      response: pick(json.response_url, `${base}/response`),
      cancel: pick(json.cancel_url, `${base}/cancel`),
    }
  }

  const read = async (url: string, what: string, id: string, signal: AbortSignal) => {
    const answer = await http.send('GET', url, { signal })
    if (answer.status === 404) throw new EngineError('failed', `SeaArt no longer knows request ${id}`)
    if (answer.status !== 200 && answer.status !== 202) throw http.statusError(answer, { what })
    const body = answer.json as SeaartBody | undefined
    if (!body || typeof body !== 'object')
      throw new EngineError('unavailable', `SeaArt answered ${what} with no JSON: ${describeBody(answer)}`)
    return { answer, body }
  }

  /** Polls status, then reads the response once it is COMPLETED without an error. */
  const follow = (
    urls: QueueUrls,
    ctx: EngineContext,
    ended: () => void,
    started: number,
    kind = '',
  ): Promise<SeaartBody> => {
    let running = false
    return pollUntil(
      async ({ hurry }) => {
        const { body } = await read(urls.status, 'the status read', urls.id, ctx.signal)
        const status = statusOf(body)
        switch (status) {
          case 'IN_QUEUE':
          case 'QUEUED':
            ctx.progress(0.05)
            return undefined
          case 'IN_PROGRESS':
            if (!running) {
              running = true
              // A request that just started may end soon: read again at the shortest delay.
              hurry()
            }
            ctx.progress(0.1)
            return undefined
          case 'COMPLETED':
          case 'FAILED':
          case 'CANCELLED':
          case 'CANCELED': {
            ended()
            const said = errorOf(body) ?? (status === 'COMPLETED' ? undefined : `the request ended ${status}`)
            if (said) throw outcomeError(said, urls.id)
            const response = await read(urls.response, 'the response read', urls.id, ctx.signal)
            // 202: the response is not written yet; the next round reads it again.
            if (response.answer.status === 202) return undefined
            const late = errorOf(response.body)
            if (late) throw outcomeError(late, urls.id)
            return response.body
          }
          default:
            throw new EngineError('failed', `SeaArt answered an unknown status '${String(status).slice(0, 40)}'`)
        }
      },
      {
        signal: ctx.signal,
        ...timer.schedule(started, undefined, kind),
        timeoutMs: taskTimeout,
        what: "SeaArt's request",
      },
    )
  }

  /** One image: submit, follow, download. */
  const one = async (task: EngineTask, seed: number, ctx: EngineContext) => {
    const started = Date.now()
    const urls = await submit(submitBody(task, seed), ctx.signal)
    const accepted = {
      provider: 'SeaArt',
      id: urls.id,
      signal: ctx.signal,
      cancel: () => cancelQueued(http, urls.cancel),
    }
    return followAccepted(accepted, async (ended) => {
      const body = await follow(urls, ctx, ended, started, task.model)
      const [url] = imageUrlsOf(body)
      if (!url) throw new EngineError('failed', 'SeaArt gave a response without an image URL')
      const image: EngineImage = { kind: 'encoded', data: await http.download(url, ctx.signal) }
      return { id: urls.id, image, costUsd: costOf(body) }
    })
  }

  return {
    name: 'seaart',
    local: false,
    upsamplesPrompts: true,
    cancelsUpstream: true,
    takesImagePrompt: true,
    supports: (model) => ENGINE_MODELS.seaart.includes(model),
    /** GET the status of a request no one made: 404 with a good key, 401/403 with a bad one, never billed. */
    async check(signal) {
      try {
        const answer = await http.send('GET', `${QUEUE}/requests/${PROBE_ID}/status`, { signal, timeoutMs: 10_000 })
        if ([200, 202, 404].includes(answer.status)) return { reachable: true, detail: 'key accepted' }
        if (answer.status === 401 || answer.status === 403)
          return { reachable: false, detail: `key refused (${answer.status})` }
        return { reachable: false, detail: `answered ${answer.status}` }
      } catch (error) {
        return { reachable: false, detail: `could not connect: ${(error as Error).message}` }
      }
    },
    async generate(task, ctx): Promise<EngineOutput> {
      throwIfAborted(ctx.signal)
      if (!ENGINE_MODELS.seaart.includes(task.model))
        throw new EngineError('invalid', `SeaArt does not serve ${task.model} here`)
      // No num_images: more images are more requests, one after the other, seeds counting up as BFL's do.
      const { made, short } = await eachImage(task, ctx, slots, (i, progress) =>
        one(task, task.seed + i, { signal: ctx.signal, progress }),
      )
      const images = made.map((done) => done.image)
      const ids = made.map((done) => done.id)
      // Unknown once any image has neither a reported cost nor a configured price.
      const costs = made.map((done) => done.costUsd ?? options.pricesUsd[task.model])
      const cost = costs.some((each) => each === undefined)
        ? undefined
        : costs.reduce<number>((sum, each) => sum + (each ?? 0), 0)
      const skipped = [...notHonoured(task), ...(short ? ['num_images'] : [])]
      return {
        images,
        ...(cost === undefined ? {} : { upstreamCostUsd: Math.round(cost * 10_000) / 10_000 }),
        upstreamIds: ids,
        ...(skipped.length > 0 ? { notHonoured: skipped } : {}),
      }
    },
  }
}
