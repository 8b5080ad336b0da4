import { createBackoff } from '../../domain/backoff.js'
import { ENGINE_MODELS } from '../../domain/engines.js'
import type { EngineContext, EngineImage, EngineOutput, EngineTask, ImageEngine } from '../engine.js'
import { abortableDelay, EngineError, throwIfAborted } from '../engine-error.js'
import { pollUntil } from '../poll.js'
import { createSemaphore, parseJson } from '../upstream.js'
import { createUpstreamClient } from '../upstream-client.js'

export interface SdcppEngineOptions {
  /** sd-server's address, e.g. http://127.0.0.1:1234. */
  url: string
  /** Jobs this process keeps in sd-server's queue at once. */
  maxQueued: number
  /** Sampling steps when the task names none; undefined: sd-server's own default. */
  steps?: number
  /** First poll delay (and again when the job starts generating); it grows ×1.5 up to 1 s. */
  pollMinMs?: number
  /** How long a full queue (429) is waited out before the job is handed back as rate limited. */
  queueWaitMs?: number
  taskTimeoutMs?: number
  requestTimeoutMs?: number
}

interface SdJob {
  id?: string
  status?: 'queued' | 'generating' | 'completed' | 'failed' | 'cancelled'
  queue_position?: number
  progress_step?: number
  progress_steps?: number
  result?: { output_format?: string; images?: { index: number; b64_json: string }[] } | null
  error?: { code?: string; message?: string } | null
}

/** The upstream lost the job (410 Gone, or 404 after a restart): submitted again, once. */
class LostUpstream extends Error {}

/**
 * stable-diffusion.cpp's sd-server through its native async API (api-anchors.md §5):
 * `POST /sdcpp/v1/img_gen` → 202 with a job id; poll `/sdcpp/v1/jobs/{id}`; cancel with
 * `POST /sdcpp/v1/jobs/{id}/cancel`. A full queue (429) is waited out; a job sd-server no
 * longer knows (410, or 404 after a restart) is submitted again once.
 */
export function createSdcppEngine(options: SdcppEngineOptions): ImageEngine & { queued(): number } {
  const base = options.url.replace(/\/+$/, '')
  const slots = createSemaphore(options.maxQueued, 'sd-server')
  const pollMin = options.pollMinMs ?? 100
  const queueWait = options.queueWaitMs ?? 10 * 60_000
  const taskTimeout = options.taskTimeoutMs ?? 30 * 60_000
  const requestTimeout = options.requestTimeoutMs ?? 30_000

  const http = createUpstreamClient({ provider: 'sd-server', base, timeoutMs: requestTimeout, local: true })
  /** One request; a submit that was sent but not answered is `failed` (it may be queued there). */
  // A finished job's answer carries its images inline (base64): up to 64 MiB a file.
  const call = (method: 'GET' | 'POST', path: string, signal: AbortSignal, body?: unknown, images = 1) =>
    http.send(method, path, {
      signal,
      body,
      submit: method === 'POST' && path === SUBMIT,
      maxBytes: 64 * 1024 * 1024 * images,
    })

  const body = (task: EngineTask) => ({
    prompt: task.prompt,
    width: task.width,
    height: task.height,
    seed: task.seed,
    batch_count: task.numImages,
    // FLUX is guidance-distilled: text CFG stays 1, the distilled guidance does the work.
    sample_params: {
      sample_method: 'euler',
      ...((task.steps ?? options.steps) ? { sample_steps: task.steps ?? options.steps } : {}),
      guidance: { txt_cfg: 1, distilled_guidance: task.guidance ?? 3.5 },
    },
    // sd-server's strength is how far to move from the init image; ours is how closely to follow it.
    ...(task.imagePrompt
      ? {
          init_image: task.imagePrompt.data.toString('base64'),
          strength: Math.round((1 - task.imagePrompt.strength) * 1000) / 1000,
        }
      : {}),
    output_format: 'png',
  })

  /** Submits, waiting out a full queue (429) with Retry-After or backoff. Returns the poll path. */
  const submit = async (task: EngineTask, signal: AbortSignal): Promise<string> => {
    const started = Date.now()
    const backoff = createBackoff({ initialMs: 500, factor: 2, maxMs: 5_000 })
    for (;;) {
      const answer = await call('POST', SUBMIT, signal, body(task))
      const { status, text } = answer
      switch (true) {
        case status === 202 || status === 200: {
          const json = parseJson<{ id?: string; poll_url?: string }>(text)
          if (!json?.id)
            throw new EngineError('failed', `sd-server accepted the job without an id: ${text.slice(0, 200)}`)
          return json.poll_url ?? `/sdcpp/v1/jobs/${encodeURIComponent(json.id)}`
        }
        case status === 429: {
          const delay = backoff.next()
          const wait = http.retryAfterMs(answer) ?? delay
          if (Date.now() + wait - started > queueWait)
            throw new EngineError(
              'rate_limited',
              `sd-server's queue stayed full for ${Math.round(queueWait / 1000)} s`,
              { retryAfterMs: wait },
            )
          await abortableDelay(wait, signal)
          continue
        }
        case status === 400:
          throw new EngineError('invalid', `sd-server rejected the request: ${describe(text)}`)
        // Nothing was queued: 404 is an sd-server without the native API (built before 2026-04).
        case status === 404:
          throw new EngineError(
            'unavailable',
            'sd-server has no /sdcpp/v1 API (404): it needs a build from 2026-04 or later',
          )
        case status >= 500:
          throw new EngineError('unavailable', `sd-server answered ${status} to the submit: ${describe(text)}`)
        default:
          throw new EngineError('failed', `sd-server answered ${status} to the submit: ${describe(text)}`)
      }
    }
  }

  const cancelUpstream = async (path: string): Promise<void> => {
    try {
      // 200 canceled, 404/410 gone, 409 already finished: all fine.
      await call('POST', `${path.replace(/\/+$/, '')}/cancel`, AbortSignal.timeout(5_000))
    } catch {
      // sd-server gone: nothing more to do.
    }
  }

  const poll = (path: string, ctx: EngineContext, images: number): Promise<EngineImage[]> => {
    let last: SdJob['status']
    return pollUntil(
      async (control) => {
        const answer = await call('GET', path, ctx.signal, undefined, images)
        const job = parseJson<SdJob>(answer.text)
        if (answer.status === 410 || answer.status === 404)
          throw new LostUpstream(`sd-server no longer knows the job (${answer.status})`)
        if (answer.status >= 500 || !job)
          throw new EngineError('unavailable', `sd-server answered ${answer.status} when polling the job`)
        if (answer.status !== 200)
          throw new EngineError('failed', `sd-server answered ${answer.status} when polling the job`)
        // A job that just started generating is polled quickly again: short jobs end soon.
        if (job.status !== last) control.hurry()
        last = job.status
        switch (job.status) {
          case 'queued':
            return undefined
          case 'generating':
            if (job.progress_steps) ctx.progress(Math.min(0.95, (job.progress_step ?? 0) / job.progress_steps))
            return undefined
          case 'completed': {
            const images = (job.result?.images ?? []).sort((a, b) => a.index - b.index)
            if (images.length === 0) throw new EngineError('failed', 'sd-server completed the job without images')
            ctx.progress(1)
            return images.map((image) => ({ kind: 'encoded' as const, data: Buffer.from(image.b64_json, 'base64') }))
          }
          case 'failed':
            throw ended(
              new EngineError(
                'failed',
                `sd-server failed the job: ${job.error?.message ?? job.error?.code ?? 'no reason given'}`,
              ),
            )
          case 'cancelled':
            throw ended(
              new EngineError('failed', `sd-server cancelled the job: ${job.error?.message ?? 'no reason given'}`),
            )
          default:
            throw new EngineError(
              'failed',
              `sd-server answered an unknown job status '${String(job.status).slice(0, 40)}'`,
            )
        }
      },
      { signal: ctx.signal, minMs: pollMin, maxMs: 1_000, timeoutMs: taskTimeout, what: "sd-server's job" },
    )
  }

  return {
    name: 'sdcpp',
    local: true,
    // A lost submit leaves at most an orphan job on the operator's own GPU: nothing is billed.
    duplicateHarmless: true,
    supports: (model) => ENGINE_MODELS.sdcpp.includes(model),
    queued: () => slots.active(),
    /** GET /sdcpp/v1/capabilities: reachable, with the loaded model and queue size. */
    async check(signal) {
      try {
        const { status, text } = await call('GET', '/sdcpp/v1/capabilities', signal)
        if (status !== 200) return { reachable: false, detail: `answered ${status}` }
        const caps =
          parseJson<{ model?: { name?: string; stem?: string }; limits?: { max_queue_size?: number } }>(text) ?? {}
        const model = caps.model?.stem ?? caps.model?.name
        const queueSize = caps.limits?.max_queue_size
        return {
          reachable: true,
          detail: `sd-server${model ? ` with ${model}` : ''}${queueSize ? `, queue ${queueSize}` : ''}`,
        }
      } catch (error) {
        return { reachable: false, detail: `could not connect: ${(error as Error).message}` }
      }
    },
    async generate(task, ctx): Promise<EngineOutput> {
      throwIfAborted(ctx.signal)
      await slots.acquire(ctx.signal)
      try {
        for (let attempt = 1; ; attempt++) {
          const path = await submit(task, ctx.signal)
          try {
            return { images: await poll(path, ctx, task.numImages) }
          } catch (error) {
            if (error instanceof LostUpstream) {
              if (attempt < 2) continue
              throw new EngineError('failed', `${error.message}, again after submitting it a second time`)
            }
            // Canceled, timed out or failing over: the job goes from sd-server's queue too.
            if (!endedUpstream.has(error as object)) await cancelUpstream(path)
            throw error
          }
        }
      } finally {
        slots.release()
      }
    },
  }
}

const SUBMIT = '/sdcpp/v1/img_gen'

/** Errors for jobs that ended on sd-server (failed, cancelled there): nothing to cancel. */
const endedUpstream = new WeakSet<object>()
function ended(error: EngineError): EngineError {
  endedUpstream.add(error)
  return error
}

function describe(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: string | { message?: string }; message?: string }
    const message = typeof json.error === 'string' ? json.error : (json.error?.message ?? json.message)
    if (message) return message.slice(0, 300)
  } catch {
    // not JSON
  }
  return text.slice(0, 300) || 'no reason given'
}
