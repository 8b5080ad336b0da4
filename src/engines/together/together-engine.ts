import { ENGINE_MODELS } from '../../domain/engines.js'
import type { ModelId } from '../../domain/models.js'
import type { EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import type { ProviderEngineOptions } from '../provider-options.js'
import {
  answerIds,
  checkWithRead,
  collectImages,
  DEFAULT_SYNC_TIMEOUT_MS,
  listCost,
  moderationOf,
  sendSyncSubmit,
} from '../sync-images.js'
import { createSemaphore } from '../upstream.js'
import { createUpstreamClient, describeBody, type UpstreamAnswer } from '../upstream-client.js'

const PATH = '/v1/images/generations'
const DEFAULT_TOLERANCE = 2

/** Together's names for the models it serves here. */
const MODELS: Partial<Record<ModelId, string>> = {
  'flux-pro-1.1': 'black-forest-labs/FLUX.1.1-pro',
  'flux-dev': 'black-forest-labs/FLUX.1-dev',
}

/** A task as Together's `POST /v1/images/generations` body, and the fields it cannot honour. */
export function togetherBody(task: EngineTask): { body: Record<string, unknown>; notHonoured: string[] } {
  const model = MODELS[task.model]
  if (!model) throw new EngineError('invalid', `Together does not serve ${task.model} here`)
  const dev = task.model === 'flux-dev'
  const notHonoured: string[] = []
  // Together has only `disable_safety_checker` (left off): its checker stands for BFL's default
  // tolerance, so only another level is reported; no upsampling, no raw.
  if (task.safetyTolerance !== DEFAULT_TOLERANCE) notHonoured.push('safety_tolerance')
  if (task.promptUpsampling) notHonoured.push('prompt_upsampling')
  // Its image_url takes a URL, and no data URI is documented (the route refuses image prompts).
  if (task.imagePrompt) notHonoured.push('image_prompt')
  if (task.raw) notHonoured.push('raw')
  if (!dev && task.steps !== undefined) notHonoured.push('steps')
  if (!dev && task.guidance !== undefined) notHonoured.push('guidance')
  const body: Record<string, unknown> = {
    model,
    prompt: task.prompt,
    width: task.width,
    height: task.height,
    n: task.numImages,
    seed: task.seed,
    // Together makes jpeg or png; fluxhost converts png to webp.
    output_format: task.output.format === 'jpeg' ? 'jpeg' : 'png',
    // Inline images: no second request to a CDN whose URLs may expire.
    response_format: 'base64',
  }
  if (dev && task.steps !== undefined) body.steps = task.steps
  if (dev && task.guidance !== undefined) body.guidance_scale = task.guidance
  return { body, notHonoured }
}

type TogetherAnswer = { id?: unknown; data?: { b64_json?: unknown; url?: unknown }[] }

/**
 * Together AI's images API (api.together.xyz): one synchronous POST that answers with the
 * images, inline (base64) or as URLs. Together has no cancel and no task to poll: a canceled
 * job closes the connection, and Together may still make and bill the image.
 */
export function createTogetherEngine(options: ProviderEngineOptions): ImageEngine & { active(): number } {
  const slots = createSemaphore(options.maxActive, 'Together')
  const timeoutMs = options.taskTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS
  const http = createUpstreamClient({
    provider: 'Together',
    base: options.baseUrl,
    headers: { authorization: `Bearer ${options.apiKey}` },
    timeoutMs: options.requestTimeoutMs,
    download: options.download,
  })

  /** Together's documented codes (docs/error-codes), its wording for moderation first. */
  const refusal = (answer: UpstreamAnswer): EngineError => {
    const { requestId } = answer
    const said = describeBody(answer)
    const detail = said ? `: ${said}` : ''
    const moderated = moderationOf(answer)
    if (moderated === 'request_moderated')
      return new EngineError(moderated, `Together moderated the prompt${detail}`, { requestId })
    if (moderated)
      return new EngineError(moderated, `Together's safety checker flagged the output${detail}`, { requestId })
    if (answer.status === 401 || answer.status === 403)
      return new EngineError(
        'unavailable',
        `Together refused the API key (${answer.status}); check FLUXHOST_TOGETHER_KEY${detail}`,
        { requestId },
      )
    if (answer.status === 402)
      return new EngineError(
        'insufficient_credits',
        `the Together account reached its monthly spending limit (402)${detail}`,
        { requestId },
      )
    // "Engine overloaded": Together turned the request away before making anything.
    if (answer.status === 503)
      return new EngineError('unavailable', `Together is overloaded (503); nothing was made${detail}`, { requestId })
    return http.statusError(answer, { what: 'the image request', submit: true })
  }

  return {
    name: 'together',
    local: false,
    cancelsUpstream: false,
    takesImagePrompt: false,
    supports: (model) => ENGINE_MODELS.together.includes(model),
    active: () => slots.active(),
    /** GET /v1/models: free, and it needs the key. */
    check: (signal) =>
      checkWithRead(http, '/v1/models', signal, (json) => {
        const list = Array.isArray(json) ? json : (json as { data?: unknown } | undefined)?.data
        const ids = Array.isArray(list) ? list.map((m) => (m as { id?: unknown })?.id) : []
        const missing = Object.values(MODELS).filter((id) => !ids.includes(id))
        return missing.length === 0 ? 'key accepted' : `key accepted; not listed: ${missing.join(', ')}`
      }),
    async generate(task, ctx): Promise<EngineOutput> {
      throwIfAborted(ctx.signal)
      const { body, notHonoured } = togetherBody(task)
      const answer = await sendSyncSubmit({ http, slots, path: PATH, body, timeoutMs, ctx, images: task.numImages })
      if (answer.status < 200 || answer.status >= 300) throw refusal(answer)
      const json = answer.json as TogetherAnswer | undefined
      if (!json || !Array.isArray(json.data))
        throw new EngineError('failed', `Together answered without a data list: ${describeBody(answer)}`, {
          submitLost: true,
          requestId: answer.requestId,
        })
      const images = await collectImages(
        http,
        json.data.map((item) => ({ b64: item?.b64_json, url: item?.url })),
        ctx.signal,
        task.numImages,
      )
      ctx.progress(1)
      return {
        images,
        upstreamCostUsd: listCost(options.pricesUsd, task.model, images.length),
        upstreamIds: answerIds(answer),
        ...(notHonoured.length > 0 ? { notHonoured } : {}),
      }
    },
  }
}
