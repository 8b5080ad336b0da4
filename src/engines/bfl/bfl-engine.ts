import { type Dispatcher, request } from 'undici'
import { createBackoff } from '../../domain/backoff.js'
import { ENGINE_MODELS } from '../../domain/engines.js'
import type { ModelId } from '../../domain/models.js'
import { parseRetryAfter } from '../../net/retry-after.js'
import type { EngineContext, EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { abortableDelay, EngineError, throwIfAborted } from '../engine-error.js'
import { createSemaphore, notSentCode } from '../upstream.js'

export interface BflEngineOptions {
  apiKey: string
  /** `https://api.bfl.ai` (global), or a regional host. */
  baseUrl: string
  /** Upstream tasks in flight at once, across all jobs (BFL's account default is 24). */
  maxActive: number
  /** First poll delay; it grows ×1.5 up to `pollMaxMs` (default 1 s). */
  pollMinMs?: number
  pollMaxMs?: number
  /** Gives up on a task that is still Pending after this long. */
  taskTimeoutMs?: number
  requestTimeoutMs?: number
}

/** The BFL models this engine serves, and their submit paths. */
const PATHS: Partial<Record<ModelId, string>> = {
  'flux-pro-1.1': '/v1/flux-pro-1.1',
  'flux-pro-1.1-ultra': '/v1/flux-pro-1.1-ultra',
  'flux-dev': '/v1/flux-dev',
}

/** A task's fields in the shape of the model's BFL input (FluxPro11Inputs, FluxUltraInput, FluxDevInputs). */
function submitBody(task: EngineTask): Record<string, unknown> {
  const common = {
    prompt: task.prompt,
    seed: task.seed,
    prompt_upsampling: task.promptUpsampling,
    safety_tolerance: task.safetyTolerance,
    // BFL makes jpeg, png and webp; fluxhost converts anything else.
    output_format: task.output.format,
    ...(task.imagePrompt ? { image_prompt: task.imagePrompt.data.toString('base64') } : {}),
  }
  switch (task.model) {
    case 'flux-pro-1.1':
      return { ...common, width: task.width, height: task.height }
    case 'flux-pro-1.1-ultra':
      return {
        ...common,
        aspect_ratio: task.aspectRatio ?? aspectRatioOf(task.width, task.height),
        raw: task.raw,
        ...(task.imagePrompt ? { image_prompt_strength: task.imagePrompt.strength } : {}),
      }
    case 'flux-dev':
      return {
        ...common,
        width: task.width,
        height: task.height,
        ...(task.steps === undefined ? {} : { steps: task.steps }),
        ...(task.guidance === undefined ? {} : { guidance: task.guidance }),
      }
    default: {
      const unreachable: never = task.model
      throw new EngineError('invalid', `BFL does not serve ${String(unreachable)} here`)
    }
  }
}

/** `2720×1536` → `85:48`, for ultra tasks that came with a size instead of a ratio. */
function aspectRatioOf(width: number, height: number): string {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))
  const d = gcd(width, height)
  return `${width / d}:${height / d}`
}

/**
 * Black Forest Labs' cloud (api.bfl.ai): submit, poll the returned `polling_url`, download
 * the sample at once (BFL's URLs expire after 10 minutes). A POST is never re-sent after a
 * 5xx or a timeout on its answer: the task may already exist and be billed, so those fail the
 * job. BFL cannot cancel a task; a canceled job stops polling and says so.
 */
export function createBflEngine(options: BflEngineOptions): ImageEngine & { active(): number } {
  const base = options.baseUrl.replace(/\/+$/, '')
  const slots = createSemaphore(options.maxActive, 'BFL')
  const pollMin = options.pollMinMs ?? 500
  // At most a second between polls: a finished task waits for us ≤ 1 s (0.5 s on average),
  // for about one GET a second per task in flight (24 a second at the account's limit).
  const pollMax = options.pollMaxMs ?? Math.max(1000, pollMin)
  const taskTimeout = options.taskTimeoutMs ?? 10 * 60_000
  const requestTimeout = options.requestTimeoutMs ?? 30_000
  const headers = { 'x-key': options.apiKey, accept: 'application/json' }

  const submit = async (task: EngineTask, signal: AbortSignal): Promise<string> => {
    const path = PATHS[task.model]
    if (!path) throw new EngineError('invalid', `BFL does not serve ${task.model} here`)
    const body = submitBody(task)
    let response: Dispatcher.ResponseData
    try {
      response = await request(`${base}${path}`, {
        method: 'POST',
        signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeout)]),
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    } catch (error) {
      if (signal.aborted)
        throw new EngineError('canceled', 'canceled before BFL answered the submit (the task may exist upstream)', {
          cause: error,
        })
      // Only a connection that was never made proves the task was not sent; anything later
      // (a reset, a timeout waiting for the answer) may have created a billed task.
      const code = notSentCode(error)
      if (code) {
        throw new EngineError('unavailable', `BFL could not be reached (${code})`, { cause: error })
      }
      throw new EngineError(
        'failed',
        'BFL did not answer the submit; not re-sent, as the task may exist and be billed',
        { cause: error },
      )
    }
    const text = await response.body.text()
    const status = response.statusCode
    switch (true) {
      case status === 200: {
        const json = JSON.parse(text) as { id?: string; polling_url?: string }
        if (!json.polling_url) throw new EngineError('failed', 'BFL answered the submit without a polling_url')
        return json.polling_url
      }
      case status === 402:
        throw new EngineError('insufficient_credits', 'the BFL account has no credits left (402)')
      case status === 429:
        throw new EngineError('rate_limited', 'BFL is rate limiting this account (429)', {
          retryAfterMs: parseRetryAfter(response.headers['retry-after'], Date.now()) ?? 5000,
        })
      case status === 401 || status === 403:
        throw new EngineError('unavailable', `BFL refused the API key (${status}); check FLUXHOST_BFL_API_KEY`)
      case status === 400 || status === 422:
        throw new EngineError('invalid', `BFL rejected the request (${status}): ${text.slice(0, 300)}`)
      case status >= 500:
        throw new EngineError(
          'failed',
          `BFL answered ${status} to the submit; not re-sent, as the task may exist and be billed`,
        )
      default:
        throw new EngineError('failed', `BFL answered ${status} to the submit`)
    }
  }

  const poll = async (pollingUrl: string, ctx: EngineContext): Promise<string> => {
    const started = Date.now()
    const backoff = createBackoff({ initialMs: pollMin, factor: 1.5, maxMs: pollMax })
    let wait: number | undefined
    for (;;) {
      await abortableDelay(Math.max(wait ?? 0, backoff.next()), ctx.signal)
      wait = undefined
      if (Date.now() - started > taskTimeout)
        throw new EngineError('failed', `BFL's task was still not ready after ${taskTimeout / 1000} s`)
      let json: { status?: string; progress?: number | null; result?: { sample?: string } | null; details?: unknown }
      try {
        const response = await request(pollingUrl, {
          signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(requestTimeout)]),
          headers,
        })
        const text = await response.body.text()
        if (response.statusCode === 429) {
          wait = parseRetryAfter(response.headers['retry-after'], Date.now()) ?? pollMax
          continue
        }
        if (response.statusCode === 404)
          throw new EngineError('failed', 'BFL no longer knows the task (Task not found)')
        if (response.statusCode >= 500) continue // transient: poll again
        json = JSON.parse(text)
      } catch (error) {
        if (error instanceof EngineError) throw error
        if (ctx.signal.aborted)
          throw new EngineError(
            'canceled',
            'canceled while polling BFL (BFL has no cancel: the upstream task runs on and may be billed)',
          )
        continue // a network blip while polling is harmless: GET is safe to repeat
      }
      switch (json.status) {
        case 'Ready':
          if (!json.result?.sample) throw new EngineError('failed', 'BFL said Ready without a sample URL')
          return json.result.sample
        case 'Pending':
          if (typeof json.progress === 'number') ctx.progress(Math.min(0.99, Math.max(0, json.progress)))
          continue
        case 'Request Moderated':
          throw new EngineError(
            'request_moderated',
            `BFL moderated the request${json.details ? `: ${JSON.stringify(json.details).slice(0, 200)}` : ''}`,
          )
        case 'Content Moderated':
          throw new EngineError(
            'content_moderated',
            `BFL moderated the output${json.details ? `: ${JSON.stringify(json.details).slice(0, 200)}` : ''}`,
          )
        case 'Task not found':
          throw new EngineError('failed', 'BFL no longer knows the task (Task not found)')
        case 'Error':
          throw new EngineError(
            'failed',
            `BFL failed the task${json.details ? `: ${JSON.stringify(json.details).slice(0, 200)}` : ''}`,
          )
        default:
          throw new EngineError('failed', `BFL answered an unknown status '${String(json.status).slice(0, 40)}'`)
      }
    }
  }

  const download = async (sampleUrl: string, signal: AbortSignal): Promise<Buffer> => {
    try {
      const response = await request(sampleUrl, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeout)]),
      })
      const data = Buffer.from(await response.body.arrayBuffer())
      if (response.statusCode !== 200)
        throw new EngineError(
          'failed',
          `BFL's sample could not be downloaded (${response.statusCode}); its URL may have expired`,
        )
      return data
    } catch (error) {
      if (error instanceof EngineError) throw error
      throw new EngineError('failed', `BFL's sample could not be downloaded: ${(error as Error).message}`, {
        cause: error,
      })
    }
  }

  return {
    name: 'bfl',
    local: false,
    upsamplesPrompts: true,
    cancelsUpstream: false,
    supports: (model) => ENGINE_MODELS.bfl.includes(model),
    active: () => slots.active(),
    /** GET /v1/credits: reachable, key accepted, and how many credits are left. */
    async check(signal) {
      try {
        const response = await request(`${base}/v1/credits`, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
          headers,
        })
        const text = await response.body.text()
        if (response.statusCode === 200) {
          const credits = (JSON.parse(text) as { credits?: number }).credits
          return { reachable: true, detail: typeof credits === 'number' ? `credits ${credits}` : 'key accepted' }
        }
        if (response.statusCode === 401 || response.statusCode === 403)
          return { reachable: false, detail: `key refused (${response.statusCode})` }
        return { reachable: false, detail: `answered ${response.statusCode}` }
      } catch (error) {
        return { reachable: false, detail: `could not connect: ${(error as Error).message}` }
      }
    },
    async generate(task, ctx): Promise<EngineOutput> {
      throwIfAborted(ctx.signal)
      const images = []
      // BFL makes one image per task; more images are more tasks, one after the other.
      for (let i = 0; i < task.numImages; i++) {
        await slots.acquire(ctx.signal)
        try {
          const one = { ...task, seed: task.seed + i }
          const pollingUrl = await submit(one, ctx.signal)
          const sample = await poll(pollingUrl, {
            signal: ctx.signal,
            progress: (fraction) => ctx.progress((i + fraction) / task.numImages),
          })
          images.push({ kind: 'encoded' as const, data: await download(sample, ctx.signal) })
        } finally {
          slots.release()
        }
        ctx.progress((i + 1) / task.numImages)
      }
      return { images }
    },
  }
}
