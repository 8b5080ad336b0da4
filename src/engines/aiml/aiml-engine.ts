import { ENGINE_MODELS } from '../../domain/engines.js'
import type { ModelId } from '../../domain/models.js'
import type { EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { EngineError, throwIfAborted } from '../engine-error.js'
import type { ProviderEngineOptions } from '../provider-options.js'
import {
  type AnsweredImage,
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

/** AIML's names for the models it serves here. */
const MODELS: Partial<Record<ModelId, string>> = {
  'flux-pro-1.1': 'flux-pro/v1.1',
  'flux-pro-1.1-ultra': 'flux-pro/v1.1-ultra',
  'flux-dev': 'flux/dev',
}

/** The ultra ratios AIML takes (its docs say an enum; this is fal's list, which AIML resells). */
export const AIML_ULTRA_RATIOS = ['21:9', '16:9', '4:3', '3:2', '1:1', '2:3', '3:4', '9:16', '9:21'] as const

/** The listed ratio nearest `width:height`, and whether it is that ratio (within 1%). */
function nearestRatio(width: number, height: number): { ratio: string; exact: boolean } {
  const target = Math.log(width / height)
  const distance = (ratio: string) => {
    const [w, h] = ratio.split(':').map(Number) as [number, number]
    return Math.abs(Math.log(w / h) - target)
  }
  const ratio = AIML_ULTRA_RATIOS.reduce((best, next) => (distance(next) < distance(best) ? next : best))
  return { ratio, exact: distance(ratio) < 0.01 }
}

/** A task as AIML's `POST /v1/images/generations` body for its model, and what it cannot honour. */
export function aimlBody(task: EngineTask): { body: Record<string, unknown>; notHonoured: string[] } {
  const model = MODELS[task.model]
  if (!model) throw new EngineError('invalid', `AIML does not serve ${task.model} here`)
  const notHonoured: string[] = []
  if (task.promptUpsampling) notHonoured.push('prompt_upsampling')
  // These FLUX models take no image (the route refuses image prompts).
  if (task.imagePrompt) notHonoured.push('image_prompt')
  const body: Record<string, unknown> = {
    model,
    prompt: task.prompt,
    num_images: task.numImages,
    enable_safety_checker: true,
  }
  // AIML's seeds start at 1: seed 0 is left to AIML, and said.
  if (task.seed >= 1) body.seed = task.seed
  else notHonoured.push('seed')
  if (task.model === 'flux-dev') {
    // flux/dev is fal's: steps and CFG-style guidance, png only, and an on/off checker (on),
    // which stands for BFL's default tolerance: only another level is reported.
    if (task.safetyTolerance !== DEFAULT_TOLERANCE) notHonoured.push('safety_tolerance')
    if (task.raw) notHonoured.push('raw')
    body.image_size = { width: task.width, height: task.height }
    if (task.steps !== undefined) body.num_inference_steps = task.steps
    if (task.guidance !== undefined) body.guidance_scale = task.guidance
    return { body, notHonoured }
  }
  if (task.steps !== undefined) notHonoured.push('steps')
  if (task.guidance !== undefined) notHonoured.push('guidance')
  // A string "1"–"6"; BFL's 0 (strictest) has no match, so the strictest AIML level is used.
  if (task.safetyTolerance < 1) notHonoured.push('safety_tolerance')
  body.safety_tolerance = String(Math.min(6, Math.max(1, Math.round(task.safetyTolerance))))
  // AIML makes jpeg or png; fluxhost converts png to webp.
  body.output_format = task.output.format === 'jpeg' ? 'jpeg' : 'png'
  if (task.model === 'flux-pro-1.1-ultra') {
    const asked = (task.aspectRatio ?? '').split(':').map(Number)
    const [w, h] = asked.length === 2 && asked.every((n) => n > 0) ? asked : [task.width, task.height]
    const { ratio, exact } = nearestRatio(w!, h!)
    if (!exact) notHonoured.push('aspect_ratio')
    body.aspect_ratio = ratio
    body.raw = task.raw
  } else {
    if (task.raw) notHonoured.push('raw')
    body.image_size = { width: task.width, height: task.height }
  }
  return { body, notHonoured }
}

type Item = { url?: unknown; b64_json?: unknown }
type AimlAnswer = { images?: Item[]; data?: Item[]; has_nsfw_concepts?: unknown }

/**
 * The AIML API (api.aimlapi.com) as a client: one synchronous POST answering with the images
 * in fal's shape (`images[]`, `has_nsfw_concepts`) or OpenAI's (`data[]`); both are read. AIML
 * has no cancel: a canceled job closes the connection, and AIML may still make and bill it.
 */
export function createAimlEngine(options: ProviderEngineOptions): ImageEngine & { active(): number } {
  const slots = createSemaphore(options.maxActive, 'AIML')
  const timeoutMs = options.taskTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS
  const http = createUpstreamClient({
    provider: 'AIML',
    base: options.baseUrl,
    headers: { authorization: `Bearer ${options.apiKey}` },
    timeoutMs: options.requestTimeoutMs,
    download: options.download,
  })

  const refusal = (answer: UpstreamAnswer): EngineError => {
    const said = describeBody(answer)
    const detail = said ? `: ${said}` : ''
    const moderated = moderationOf(answer)
    if (moderated === 'request_moderated')
      return new EngineError(moderated, `AIML moderated the prompt${detail}`, { requestId: answer.requestId })
    if (moderated)
      return new EngineError(moderated, `AIML's safety checker flagged the output${detail}`, {
        requestId: answer.requestId,
      })
    if (answer.status === 401 || answer.status === 403)
      return new EngineError(
        'unavailable',
        `AIML refused the API key (${answer.status}); check FLUXHOST_AIML_KEY${detail}`,
        { requestId: answer.requestId },
      )
    return http.statusError(answer, { what: 'the image request', submit: true })
  }

  return {
    name: 'aiml',
    local: false,
    cancelsUpstream: false,
    takesImagePrompt: false,
    supports: (model) => ENGINE_MODELS.aiml.includes(model),
    active: () => slots.active(),
    /** GET /v1/billing/balance: free, needs the key, and says what is left. */
    check: (signal) =>
      checkWithRead(http, '/v1/billing/balance', signal, (json) => {
        const balance = json as { balance?: unknown; lowBalance?: unknown } | undefined
        if (typeof balance?.balance !== 'number') return 'key accepted'
        return `credits ${balance.balance}${balance.lowBalance === true ? ' (low balance)' : ''}`
      }),
    async generate(task, ctx): Promise<EngineOutput> {
      throwIfAborted(ctx.signal)
      const { body, notHonoured } = aimlBody(task)
      const answer = await sendSyncSubmit({ http, slots, path: PATH, body, timeoutMs, ctx, images: task.numImages })
      if (answer.status < 200 || answer.status >= 300) throw refusal(answer)
      const json = answer.json as AimlAnswer | undefined
      const nsfw = json?.has_nsfw_concepts
      const flagged = Array.isArray(nsfw) ? nsfw.filter((v) => v === true).length : nsfw === true ? 1 : 0
      // One flagged image fails the task: a set with black placeholders is not what was asked.
      if (flagged > 0)
        throw new EngineError(
          'content_moderated',
          `AIML's safety checker flagged ${flagged} of ${Array.isArray(nsfw) ? nsfw.length : 1} images`,
          { requestId: answer.requestId },
        )
      // fal's `images` first: an answer carrying both lists names the same images twice.
      const list = Array.isArray(json?.images) ? json.images : Array.isArray(json?.data) ? json.data : undefined
      if (!list)
        throw new EngineError('failed', `AIML answered without images or data: ${describeBody(answer)}`, {
          submitLost: true,
          requestId: answer.requestId,
        })
      const answered: AnsweredImage[] = list.map((item) => ({ b64: item?.b64_json, url: item?.url }))
      const images = await collectImages(http, answered, ctx.signal, task.numImages)
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
