/** Reading SeaArt's status and response bodies, in both shapes its documents show. */
import { EngineError } from '../engine-error.js'

export interface SeaartBody {
  request_id?: string
  status?: string
  queue_position?: number
  /** The model API pages: a string with `error_type`; seed 000: `{code, message}`. */
  error?: unknown
  error_type?: unknown
  /** The multimodal result page: `outputs: [{type, url, …}]`. */
  outputs?: { type?: string; url?: string }[]
  /** Seed 000: `output: [{content: [{type, url}]}]`. */
  output?: { content?: { type?: string; url?: string }[] }[]
  usage?: { cost?: unknown }
}

/** The status word, upper case: the queue pages say IN_QUEUE…COMPLETED, seed 000 lower-case words. */
export function statusOf(body: SeaartBody): string | undefined {
  return typeof body.status === 'string' ? body.status.toUpperCase() : undefined
}

/** What the body says went wrong, or undefined when it carries no error. */
export function errorOf(body: SeaartBody): string | undefined {
  const { error } = body
  const type = typeof body.error_type === 'string' ? body.error_type : undefined
  let message: string | undefined
  if (typeof error === 'string' && error) message = error
  else if (error && typeof error === 'object') {
    const { code, message: text } = error as { code?: unknown; message?: unknown }
    message = [code, text].filter((part) => typeof part === 'string' && part).join(': ') || JSON.stringify(error)
  }
  if (!message && !type) return undefined
  return [type, message].filter(Boolean).join(': ').slice(0, 300)
}

/**
 * A finished request's failure as an EngineError. SeaArt documents no moderation codes, so
 * its words decide (an assumption): moderation about the output is content_moderated, any
 * other moderation request_moderated, anything else a failed run.
 */
export function outcomeError(said: string, requestId: string): EngineError {
  if (/moderat|nsfw|content[ _-]?polic|flagged|sensitive|unsafe/i.test(said)) {
    if (/output|generated/i.test(said))
      return new EngineError('content_moderated', `SeaArt flagged the output: ${said}`, { requestId })
    return new EngineError('request_moderated', `SeaArt flagged the request: ${said}`, { requestId })
  }
  return new EngineError('failed', `SeaArt failed the request: ${said}`, { requestId })
}

/** The image URLs of a finished request, from either shape. */
export function imageUrlsOf(body: SeaartBody): string[] {
  const items = [...(body.outputs ?? []), ...(body.output ?? []).flatMap((entry) => entry.content ?? [])]
  return items
    .filter((item) => item && (item.type === undefined || item.type === 'image'))
    .map((item) => item.url)
    .filter((url): url is string => typeof url === 'string' && url !== '')
}

/** `usage.cost` (USD, a string in seed 000), when the response reports it. */
export function costOf(body: SeaartBody): number | undefined {
  const cost = Number(body.usage?.cost)
  return body.usage?.cost !== undefined && Number.isFinite(cost) && cost >= 0 ? cost : undefined
}
