import { ENGINE_MODELS } from '../../domain/engines.js'
import type { ModelId } from '../../domain/models.js'
import type { EngineContext, EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import { eachImage } from '../per-image.js'
import { createTaskTimer, pollUntil, type Wake } from '../poll.js'
import { sameSecret } from '../push.js'
import { createSemaphore } from '../upstream.js'
import { type CheckedDownload, createUpstreamClient, describeBody } from '../upstream-client.js'

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
  /** With a callback, the safety-net poll's first delay (default 2 s; it grows ×1.5 to 5×). */
  pushPollMs?: number
  /** Samples on hosts other than `baseUrl` (BFL's delivery hosts) are fetched through this. */
  download?: CheckedDownload
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
  const slots = createSemaphore(options.maxActive, 'BFL')
  const pollMin = options.pollMinMs ?? 500
  // At most a second between polls: a finished task waits for us ≤ 1 s (0.5 s on average),
  // for about one GET a second per task in flight (24 a second at the account's limit).
  const pollMax = options.pollMaxMs ?? Math.max(1000, pollMin)
  const taskTimeout = options.taskTimeoutMs ?? 10 * 60_000
  const http = createUpstreamClient({
    provider: 'BFL',
    base: options.baseUrl,
    headers: { 'x-key': options.apiKey },
    // The polling_url points at the cluster that took the task (api.eu1.bfl.ai, gateway.bfl.ai).
    allowHost: (host) => /(^|\.)bfl\.(ai|ml)(:\d+)?$/i.test(host),
    timeoutMs: options.requestTimeoutMs,
    download: options.download,
  })

  const timer = createTaskTimer({ pollMinMs: pollMin, pollMaxMs: pollMax, pushPollMs: options.pushPollMs })

  /** `hook`: BFL calls it when the task ends (FLUXHOST_PROVIDER_WEBHOOKS), echoing the secret. */
  const submit = async (task: EngineTask, signal: AbortSignal, hook?: { url: string; secret: string }) => {
    const path = PATHS[task.model]
    if (!path) throw new EngineError('invalid', `BFL does not serve ${task.model} here`)
    const body = { ...submitBody(task), ...(hook ? { webhook_url: hook.url, webhook_secret: hook.secret } : {}) }
    const answer = await http.send('POST', path, { signal, body, submit: true })
    if (answer.status !== 200) {
      if (answer.status === 401 || answer.status === 403)
        throw new EngineError('unavailable', `BFL refused the API key (${answer.status}); check FLUXHOST_BFL_API_KEY`)
      if (answer.status === 402)
        throw new EngineError('insufficient_credits', 'the BFL account has no credits left (402)')
      throw http.statusError(answer, { what: 'the submit', submit: true })
    }
    const json = answer.json as { id?: string; polling_url?: string; cost?: number | null } | undefined
    // With a webhook, BFL answers without a polling_url: get_result by id is the way then.
    const pollingUrl =
      json?.polling_url ?? (json?.id ? `${http.base}/v1/get_result?id=${encodeURIComponent(json.id)}` : undefined)
    if (!pollingUrl)
      throw new EngineError('failed', 'BFL answered the submit without a polling_url or an id', { submitLost: true })
    // BFL's cost is in credits of $0.01.
    return { id: json?.id, pollingUrl, costUsd: typeof json?.cost === 'number' ? json.cost / 100 : 0.04 }
  }

  type Result = { status?: string; progress?: number | null; result?: { sample?: string } | null; details?: unknown }
  const details = (json: Result) => (json.details ? `: ${JSON.stringify(json.details).slice(0, 200)}` : '')

  const poll = (pollingUrl: string, ctx: EngineContext, started: number, wake?: Wake, kind = '') =>
    pollUntil<string>(
      async () => {
        const answer = await http.send('GET', pollingUrl, { signal: ctx.signal })
        if (answer.status === 404) throw new EngineError('failed', 'BFL no longer knows the task (Task not found)')
        if (answer.status !== 200) throw http.statusError(answer, { what: 'the result poll' })
        const json = answer.json as Result | undefined
        if (!json) throw new EngineError('unavailable', `BFL answered the poll with no JSON: ${describeBody(answer)}`)
        switch (json.status) {
          case 'Ready':
            if (!json.result?.sample) throw new EngineError('failed', 'BFL said Ready without a sample URL')
            return json.result.sample
          case 'Pending':
            if (typeof json.progress === 'number') ctx.progress(Math.min(0.99, Math.max(0, json.progress)))
            return undefined
          case 'Request Moderated':
            throw new EngineError('request_moderated', `BFL moderated the request${details(json)}`)
          case 'Content Moderated':
            throw new EngineError('content_moderated', `BFL moderated the output${details(json)}`)
          case 'Task not found':
            throw new EngineError('failed', 'BFL no longer knows the task (Task not found)')
          case 'Error':
          case 'Failed':
            throw new EngineError('failed', `BFL failed the task${details(json)}`)
          default:
            throw new EngineError('failed', `BFL answered an unknown status '${String(json.status).slice(0, 40)}'`)
        }
      },
      { signal: ctx.signal, ...timer.schedule(started, wake, kind), timeoutMs: taskTimeout, what: "BFL's task" },
    ).catch((error: unknown) => {
      if (error instanceof EngineError && error.kind === 'canceled')
        throw new EngineError(
          'canceled',
          'canceled while polling BFL (BFL has no cancel: the upstream task runs on and may be billed)',
        )
      throw error
    })

  return {
    name: 'bfl',
    local: false,
    upsamplesPrompts: true,
    cancelsUpstream: false,
    supports: (model) => ENGINE_MODELS.bfl.includes(model),
    active: () => slots.active(),
    /** GET /v1/credits: reachable, key accepted, and how many credits are left. */
    /** BFL echoes the task's webhook_secret in X-Webhook-Secret (its SDK's `_webhooks.py`). */
    verifyPush: async (call) => sameSecret(call.headers['x-webhook-secret'], call.secret),
    async check(signal) {
      try {
        const answer = await http.send('GET', '/v1/credits', { signal, timeoutMs: 10_000 })
        if (answer.status === 200) {
          const credits = (answer.json as { credits?: number } | undefined)?.credits
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
      // BFL makes one image per task; more images are more tasks, one after the other.
      const { made, short } = await eachImage(task, ctx, slots, async (i, progress) => {
        const push = ctx.push
        const hook = push ? { url: push.url('bfl', i), secret: push.secret('bfl', i) } : undefined
        const started = Date.now()
        const submitted = await submit({ ...task, seed: task.seed + i }, ctx.signal, hook)
        const sample = await poll(
          submitted.pollingUrl,
          { signal: ctx.signal, progress },
          started,
          push ? (signal) => push.wake('bfl', i, signal) : undefined,
          task.model,
        )
        const data = await http.download(sample, ctx.signal).catch((error: unknown) => {
          if (error instanceof EngineError && error.kind === 'failed')
            throw new EngineError('failed', `${error.message.replace('result', 'sample')}; its URL may have expired`)
          throw error
        })
        return { image: { kind: 'encoded' as const, data }, id: submitted.id, costUsd: submitted.costUsd }
      })
      const cost = made.reduce((sum, one) => sum + one.costUsd, 0)
      return {
        images: made.map((one) => one.image),
        upstreamCostUsd: Math.round(cost * 10_000) / 10_000,
        upstreamIds: made.flatMap((one) => (one.id ? [one.id] : [])),
        ...(short ? { notHonoured: ['num_images'] } : {}),
      }
    },
  }
}
