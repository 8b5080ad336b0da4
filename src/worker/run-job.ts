import type { Logger } from 'pino'
import type { BlobStore } from '../blobs/blob-store.js'
import { blobKeys } from '../blobs/keys.js'
import { backoffDelay } from '../domain/backoff.js'
import type { Clock } from '../domain/clock.js'
import { ERRORS, type ErrorCode } from '../domain/errors.js'
import type { Job, JobImage } from '../domain/job.js'
import type { EngineTask } from '../engines/engine.js'
import { EngineError, type EngineErrorKind, isEngineError } from '../engines/engine-error.js'
import { type EngineAttempt, type EngineRouter, RoutedEngineError } from '../engines/router.js'
import { encodeImage } from '../images/encode.js'
import type { Metrics } from '../observability/metrics.js'
import { type PromptUpsampler, UpsamplerError, type UpsamplingOutcome } from '../prompts/upsampler.js'
import type { JobEvents } from '../queue/job-events.js'
import type { JobQueue } from '../queue/job-queue.js'
import { blackLike, type SafetyChecker } from '../safety/checker.js'
import type { Store } from '../store/store.js'

/** Why a worker aborted a running job; the engine sees it as `signal.reason`. */
export const ABORT = {
  shutdown: 'shutdown',
  canceled: 'canceled',
  leaseLost: 'lease-lost',
} as const
type AbortReason = (typeof ABORT)[keyof typeof ABORT]

export interface RunJobDeps {
  store: Store
  queue: JobQueue
  events: JobEvents
  blobs: BlobStore
  router: EngineRouter
  clock: Clock
  logger: Logger
  metrics: Metrics
  leaseMs: number
  maxAttempts: number
  /** The prompt blocklist and output classifier; absent: no checks (tests of the runner). */
  safety?: SafetyChecker
  /** Rewrites prompts for engines that cannot (FLUXHOST_UPSAMPLER_URL); absent: none configured. */
  upsampler?: PromptUpsampler
}

/** Between attempts of a job whose engine was unavailable, or that failed inside fluxhost. */
const RETRY_BACKOFF = { initialMs: 1_000, factor: 2, maxMs: 60_000 }

// Progress is saved with the lease heartbeat, at most this often, so polling clients see it.
const PROGRESS_SAVE_MS = 500

/**
 * Runs one claimed job to its end: engine → encode → blobs → complete and charge in one
 * transaction. Every write is guarded by this worker's lease, so a job canceled or taken
 * over meanwhile is left alone and this attempt's files are removed.
 */
export async function runJob(job: Job, owner: string, abort: AbortController, deps: RunJobDeps): Promise<void> {
  const { store, queue, events, blobs, router, clock, logger, metrics } = deps
  const log = logger.child({ jobId: job.id, attempt: job.attempts })
  const signal = abort.signal
  const prefix = blobKeys.attempt(job.id, job.attempts)
  let progress = 0
  let saving: Promise<void> | undefined
  let lastSave = clock.now()

  const heartbeat = () => {
    if (saving !== undefined) return
    lastSave = clock.now()
    saving = queue
      .extend(job.id, owner, progress)
      .then((ok) => {
        if (!ok && !signal.aborted) abort.abort(ABORT.leaseLost)
      })
      .catch((error: unknown) => log.warn({ err: error }, 'job:heartbeat-failed'))
      .finally(() => (saving = undefined))
  }
  const timer = setInterval(heartbeat, Math.max(100, Math.floor(deps.leaseMs / 3)))
  const unsubscribe = events.subscribe(job.id, (event) => {
    if (event.type === 'cancel' && !signal.aborted) abort.abort(ABORT.canceled)
  })

  log.info({ model: job.model }, 'job:claimed')
  events.publish({ type: 'state', jobId: job.id, state: 'running' })
  const started = performance.now()
  let engineName: string | null = null
  try {
    // Files of earlier attempts (a crashed worker's) are garbage now that we hold the lease.
    if (job.attempts > 1) await blobs.deletePrefix(blobKeys.outputs(job.id))
    const tolerance = job.request.safetyTolerance
    const checkPrompt = (prompt: string, which: string) => {
      const blocked = deps.safety?.checkPrompt(prompt, tolerance)
      if (blocked)
        throw new EngineError(
          'request_moderated',
          `${which} contains '${blocked}', which is blocked at safety_tolerance ${tolerance}`,
        )
    }
    checkPrompt(job.request.prompt, 'the prompt')
    const { prompt, upsampling, nativeUpsampling } = await upsample(job, deps, signal)
    if (prompt !== job.request.prompt) checkPrompt(prompt, 'the upsampled prompt')
    const task = { ...(await buildTask(job, blobs)), prompt, promptUpsampling: nativeUpsampling }
    const engineStarted = performance.now()
    const routed = await router.generate(task, {
      signal,
      progress(fraction) {
        progress = Math.min(1, Math.max(progress, fraction))
        events.publish({ type: 'progress', jobId: job.id, progress })
        if (clock.now() - lastSave >= PROGRESS_SAVE_MS) heartbeat()
      },
    })
    engineName = routed.engine
    const inferenceMs = performance.now() - engineStarted
    metrics.engineDuration.observe({ engine: routed.engine, outcome: 'ok' }, inferenceMs / 1000)

    // Local engines' outputs go through the classifier; cloud engines moderate their own.
    let outputs = routed.output.images
    let nsfw: boolean[] | undefined
    let safetyMs: number | undefined
    if (routed.local && job.request.safetyChecker && deps.safety?.checkOutput) {
      const checkStarted = performance.now()
      const verdicts = await Promise.all(outputs.map((image) => deps.safety!.checkOutput!(image, tolerance, signal)))
      safetyMs = Math.round((performance.now() - checkStarted) * 10) / 10
      metrics.safetyDuration.observe(
        { outcome: verdicts.some((v) => v.flagged) ? 'flagged' : 'passed' },
        safetyMs / 1000,
      )
      const flagged = verdicts.find((v) => v.flagged)
      if (flagged) {
        log.info({ scores: verdicts.map((v) => v.scores) }, 'job:output-flagged')
        if (job.request.flaggedOutput !== 'blackout')
          throw new EngineError('content_moderated', `the output was flagged: ${flagged.flagged}`)
        nsfw = verdicts.map((v) => v.flagged !== undefined)
        outputs = await Promise.all(outputs.map((image, i) => (nsfw![i] ? blackLike(image) : image)))
      }
    }

    const encodeStarted = performance.now()
    const images: JobImage[] = []
    for (const [index, image] of outputs.entries()) {
      const encoded = await encodeImage(image, job.request.output)
      const key = blobKeys.output(job.id, job.attempts, index, encoded.format)
      await blobs.put(key, encoded.data, encoded.contentType)
      images.push({
        key,
        width: encoded.width,
        height: encoded.height,
        contentType: encoded.contentType,
        bytes: encoded.data.length,
      })
    }
    if (signal.aborted) throw new EngineError('canceled', 'aborted after generation')

    const result = {
      images,
      prompt: routed.output.prompt ?? prompt,
      seed: job.request.seed,
      inferenceMs: Math.round(inferenceMs * 10) / 10,
      encodeMs: Math.round((performance.now() - encodeStarted) * 10) / 10,
      ...(nsfw ? { nsfw } : {}),
      ...(safetyMs === undefined ? {} : { safetyMs }),
      ...(upsampling ? { upsampling } : {}),
      ...(routed.attempts.length > 1 ? { engineAttempts: routed.attempts } : {}),
    }
    // Blacked-out images are not charged: only the clean ones are.
    const clean = nsfw ? nsfw.filter((flag) => !flag).length : images.length
    const costMicros = nsfw ? Math.round((job.costMicros * clean) / images.length) : undefined
    const completed = await store.transaction(async (tx) => {
      const done = await tx.jobs.complete(job.id, owner, {
        result,
        engine: routed.engine,
        now: clock.now(),
        costMicros,
      })
      if (done && clean > 0) {
        await tx.charges.insert({
          job_id: job.id,
          api_key_id: job.apiKeyId,
          model: job.model,
          images: clean,
          amount_micros: costMicros ?? job.costMicros,
          created_at: clock.now(),
        })
      }
      return done
    })
    if (!completed) {
      await blobs.deletePrefix(prefix)
      log.info('job:discarded (canceled or lease lost before completion)')
      return
    }
    metrics.jobsFinished.inc({ state: 'succeeded' })
    events.publish({ type: 'state', jobId: job.id, state: 'succeeded' })
    log.info({ engine: routed.engine, ms: Math.round(performance.now() - started) }, 'job:succeeded')
  } catch (error) {
    await blobs.deletePrefix(prefix).catch(() => undefined)
    if (error instanceof RoutedEngineError) engineName = error.engine
    if (!(error instanceof RoutedEngineError) || error.kind !== 'canceled') {
      const outcome = isEngineError(error) ? error.kind : 'error'
      metrics.engineDuration.observe({ engine: engineName ?? 'none', outcome }, (performance.now() - started) / 1000)
    }
    await settleFailure(job, owner, error, signal.reason as AbortReason | undefined, engineName, deps, log)
  } finally {
    clearInterval(timer)
    unsubscribe()
    await saving
  }
}

/**
 * `prompt_upsampling` (unless `raw`): the engine does it when it can (BFL); otherwise the
 * configured upsampler rewrites the prompt; otherwise the result says it was not applied.
 * An upsampler that fails leaves the prompt as given, and the result says why.
 */
async function upsample(
  job: Job,
  deps: RunJobDeps,
  signal: AbortSignal,
): Promise<{ prompt: string; upsampling?: UpsamplingOutcome; nativeUpsampling: boolean }> {
  const { request } = job
  if (!request.promptUpsampling || request.raw) return { prompt: request.prompt, nativeUpsampling: false }
  if (deps.router.enginesFor(request.model)[0]?.upsamplesPrompts) {
    return { prompt: request.prompt, upsampling: { applied: true, by: 'engine' }, nativeUpsampling: true }
  }
  if (!deps.upsampler) {
    return {
      prompt: request.prompt,
      upsampling: {
        applied: false,
        reason: 'the engine does not upsample prompts and no upsampler is configured (FLUXHOST_UPSAMPLER_URL)',
      },
      nativeUpsampling: false,
    }
  }
  try {
    const prompt = await deps.upsampler.rewrite(request.prompt, signal)
    return { prompt, upsampling: { applied: true, by: 'upsampler' }, nativeUpsampling: false }
  } catch (error) {
    if (signal.aborted) throw new EngineError('canceled', 'aborted while upsampling the prompt')
    deps.logger.warn(
      { jobId: job.id, err: error, detail: (error as { detail?: string }).detail },
      'job:upsampling-failed',
    )
    // Clients see the reason without upstream addresses or text (those are in the log).
    const reason = error instanceof UpsamplerError ? error.message : 'the upsampler failed'
    return { prompt: request.prompt, upsampling: { applied: false, reason }, nativeUpsampling: false }
  }
}

async function buildTask(job: Job, blobs: BlobStore): Promise<EngineTask> {
  const { request } = job
  let imagePrompt: EngineTask['imagePrompt']
  if (request.imagePrompt) {
    const data = await blobs.read(request.imagePrompt.key)
    if (!data) throw new EngineError('invalid', 'the stored image prompt is missing')
    imagePrompt = { data, strength: request.imagePrompt.strength }
  }
  return {
    jobId: job.id,
    model: request.model,
    prompt: request.prompt,
    width: request.width,
    height: request.height,
    seed: request.seed,
    numImages: request.numImages,
    promptUpsampling: request.promptUpsampling,
    raw: request.raw,
    safetyTolerance: request.safetyTolerance,
    ...(request.steps === undefined ? {} : { steps: request.steps }),
    ...(request.guidance === undefined ? {} : { guidance: request.guidance }),
    ...(request.aspectRatio === undefined ? {} : { aspectRatio: request.aspectRatio }),
    imagePrompt,
    output: request.output,
    simulate: request.simulate,
  }
}

type Decision =
  | { kind: 'fail'; code: ErrorCode; message: string }
  | { kind: 'retry'; delayMs: number; code: ErrorCode; message: string }

/** The one place that turns an engine failure into what happens to the job. */
export function decide(
  kind: EngineErrorKind,
  message: string,
  attempts: number,
  maxAttempts: number,
  retryAfterMs?: number,
): Decision {
  const retryOr = (code: ErrorCode, delayMs: number): Decision =>
    attempts < maxAttempts ? { kind: 'retry', delayMs, code, message } : { kind: 'fail', code, message }
  switch (kind) {
    case 'request_moderated':
      return { kind: 'fail', code: 'REQUEST_MODERATED', message }
    case 'content_moderated':
      return { kind: 'fail', code: 'CONTENT_MODERATED', message }
    case 'invalid':
      return { kind: 'fail', code: 'VALIDATION_FAILED', message }
    case 'insufficient_credits':
      return { kind: 'fail', code: 'INSUFFICIENT_CREDITS', message }
    case 'failed':
      return { kind: 'fail', code: 'GENERATION_FAILED', message }
    case 'canceled':
      // Our own aborts are settled before this; an engine that cancels by itself failed.
      return { kind: 'fail', code: 'GENERATION_FAILED', message: `the engine stopped the generation: ${message}` }
    case 'rate_limited':
      return retryOr('RATE_LIMITED', retryAfterMs ?? 5_000)
    case 'unavailable':
      return retryOr('ENGINE_UNAVAILABLE', backoffDelay(attempts, RETRY_BACKOFF))
    default: {
      const unreachable: never = kind
      throw new Error(`unhandled engine error kind ${String(unreachable)}`)
    }
  }
}

function describeAttempts(attempts: readonly EngineAttempt[]): string {
  return attempts.map((a) => (a.error ? `${a.engine}: ${a.error.kind}` : `${a.engine}: ok`)).join('; ')
}

async function settleFailure(
  job: Job,
  owner: string,
  error: unknown,
  reason: AbortReason | undefined,
  engine: string | null,
  deps: RunJobDeps,
  log: Logger,
): Promise<void> {
  const { queue, store, events, clock, metrics } = deps
  if (reason === ABORT.shutdown) {
    const released = await queue.release(job.id, owner)
    log.info({ released }, 'job:released (shutdown)')
    return
  }
  if (reason === ABORT.canceled || reason === ABORT.leaseLost) {
    log.info({ reason }, 'job:aborted')
    return
  }
  let decision: Decision
  if (isEngineError(error)) {
    // After a failover, the message names every engine tried and why each gave up.
    const tried =
      error instanceof RoutedEngineError && error.attempts.length > 1
        ? ` (engines tried: ${describeAttempts(error.attempts)})`
        : ''
    decision = decide(error.kind, `${error.message}${tried}`, job.attempts, deps.maxAttempts, error.retryAfterMs)
  } else {
    // Not an engine's verdict (disk full, encoder crash): worth another attempt.
    log.error({ err: error }, 'job:internal-error')
    decision =
      job.attempts < deps.maxAttempts
        ? {
            kind: 'retry',
            delayMs: backoffDelay(job.attempts, RETRY_BACKOFF),
            code: 'INTERNAL_ERROR',
            message: ERRORS.INTERNAL_ERROR.message,
          }
        : { kind: 'fail', code: 'INTERNAL_ERROR', message: ERRORS.INTERNAL_ERROR.message }
  }
  if (decision.kind === 'retry') {
    await queue.retryLater(job.id, owner, decision.delayMs)
    log.warn({ code: decision.code, delayMs: decision.delayMs }, 'job:retrying')
    return
  }
  const failed = await store.jobs.fail(job.id, owner, {
    error: { code: decision.code, message: decision.message },
    engine,
    now: clock.now(),
  })
  if (failed) {
    metrics.jobsFinished.inc({ state: 'failed' })
    events.publish({ type: 'state', jobId: job.id, state: 'failed' })
    log.info({ code: decision.code }, 'job:failed')
  }
}
