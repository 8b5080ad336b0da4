/**
 * What the synchronous image providers (Together, AIML) share: one POST that is open while
 * the image is made, its answer turned into images, and a free read for `check()`.
 */
import type { ModelId } from '../domain/models.js'
import type { EngineCheck, EngineContext, EngineImage } from './engine.js'
import { EngineError, type EngineErrorKind } from './engine-error.js'
import type { createSemaphore } from './upstream.js'
import { describeBody, type UpstreamAnswer, type UpstreamClient } from './upstream-client.js'

type Slots = ReturnType<typeof createSemaphore>

/** The image is made while the request is open: the submit's limit is the whole task's. */
export const DEFAULT_SYNC_TIMEOUT_MS = 5 * 60_000

export interface SyncSubmit {
  http: UpstreamClient
  slots: Slots
  path: string
  body: Record<string, unknown>
  timeoutMs: number
  ctx: EngineContext
  /** Images asked for: an answer carries them inline (base64), so it may be that many files large. */
  images: number
}

/** The largest image file an answer may carry inline, per image (as engine downloads allow). */
const MAX_IMAGE_BYTES = 64 * 1024 * 1024

/**
 * Sends the one POST in a slot. It is never re-sent: a lost answer is `submitLost` from the
 * client already. Aborting only closes our connection; the provider has no cancel and may
 * finish the image and bill it, which the canceled message says.
 */
export async function sendSyncSubmit(submit: SyncSubmit): Promise<UpstreamAnswer> {
  const { http, slots, ctx } = submit
  await slots.acquire(ctx.signal)
  try {
    const pending = http.send('POST', submit.path, {
      signal: ctx.signal,
      body: submit.body,
      submit: true,
      timeoutMs: submit.timeoutMs,
      maxBytes: MAX_IMAGE_BYTES * Math.max(1, submit.images),
    })
    ctx.progress(0.05)
    return await pending
  } catch (error) {
    if (error instanceof EngineError && error.kind === 'canceled')
      throw new EngineError(
        'canceled',
        `canceled: closed the connection to ${http.provider}, which has no cancel; ` +
          'it may still make the image and bill it',
        { cause: error },
      )
    throw error
  } finally {
    slots.release()
  }
}

/** One image in an answer: inline base64 or a URL to fetch. */
export interface AnsweredImage {
  b64?: unknown
  url?: unknown
}

/** Decodes inline images and downloads the others (off-host URLs through the checked agent). */
export async function collectImages(
  http: UpstreamClient,
  all: readonly AnsweredImage[],
  signal: AbortSignal,
  asked: number,
): Promise<EngineImage[]> {
  // Only as many as were asked for: a broken or hostile answer listing a thousand URLs
  // downloads no more than that.
  const answered = all.slice(0, asked)
  if (answered.length === 0)
    throw new EngineError('failed', `${http.provider} answered without images`, { submitLost: true })
  return Promise.all(
    answered.map(async (item, i): Promise<EngineImage> => {
      if (typeof item.b64 === 'string' && item.b64.length > 0) {
        const data = Buffer.from(item.b64.replace(/^data:[^,]*,/, ''), 'base64')
        if (data.length === 0) throw new EngineError('failed', `${http.provider}'s image ${i + 1} is not base64`)
        return { kind: 'encoded', data }
      }
      if (typeof item.url === 'string' && item.url.length > 0)
        return { kind: 'encoded', data: await http.download(item.url, signal) }
      // The answer came, so the image was made and may be billed: not tried again anywhere.
      throw new EngineError('failed', `${http.provider}'s image ${i + 1} has neither b64_json nor url`, {
        submitLost: true,
      })
    }),
  )
}

// Field names alone (`safety_tolerance` in a validation error) must not read as moderation.
const FLAGGED = /nsfw|unsafe|moderat|content.?polic|usage.?polic|flagged|inappropriate|safety.?(checker|system|filter)/i
const ABOUT_INPUT = /prompt|input|request|text/i

/**
 * Whether a refused request says it was moderated: the prompt (`request_moderated`) or, for
 * any other safety wording, the output (`content_moderated`). Neither provider documents these
 * answers, nor one error shape, so the whole body is read (message, code, type, whatever holds them).
 */
export function moderationOf(answer: UpstreamAnswer): EngineErrorKind | undefined {
  // A refused key, an empty account or a rate limit stays what it is, whatever its words say.
  if (![400, 422, 451].includes(answer.status)) return undefined
  const said = answer.text.slice(0, 4000)
  if (!FLAGGED.test(said)) return undefined
  return ABOUT_INPUT.test(said) && !/nsfw|image|output/i.test(said) ? 'request_moderated' : 'content_moderated'
}

/** What the provider charges for `count` images of `model` (its list price; neither reports one). */
export function listCost(prices: Partial<Record<ModelId, number>>, model: ModelId, count: number) {
  const price = prices[model]
  return price === undefined ? undefined : Math.round(price * count * 10_000) / 10_000
}

/** The provider's id for the answer: the body's `id`, else its request-id header. */
export function answerIds(answer: UpstreamAnswer): string[] {
  const id = (answer.json as { id?: unknown } | undefined)?.id
  if (typeof id === 'string' && id) return [id.slice(0, 200)]
  return answer.requestId ? [answer.requestId] : []
}

/** A free, read-only call for `check()`: never one that is billed. */
export async function checkWithRead(
  http: UpstreamClient,
  path: string,
  signal: AbortSignal,
  describe: (json: unknown) => string,
): Promise<EngineCheck> {
  try {
    const answer = await http.send('GET', path, { signal, timeoutMs: 10_000 })
    if (answer.status === 200) return { reachable: true, detail: describe(answer.json) }
    if (answer.status === 401 || answer.status === 403)
      return { reachable: false, detail: `key refused (${answer.status})` }
    const said = describeBody(answer)
    return { reachable: false, detail: `answered ${answer.status}${said ? `: ${said.slice(0, 120)}` : ''}` }
  } catch (error) {
    return { reachable: false, detail: `could not connect: ${(error as Error).message}` }
  }
}
