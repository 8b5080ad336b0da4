import { blobKeys } from '../blobs/keys.js'
import type { Job, JobImage } from '../domain/job.js'
import { usdToMicros } from '../domain/money.js'
import { EngineError, isEngineError } from '../engines/engine-error.js'
import { RoutedEngineError } from '../engines/router.js'
import { encodeImage } from '../images/encode.js'
import { blackLike, outputCheckSkipped } from '../safety/checker.js'
import { REVOKED_MESSAGE } from '../services/keys.js'
import { budgetAlert, type Settlement, sharesToAnnounce } from './budget-alerts.js'
import { ABORT, type AbortReason, type RunJobDeps } from './deps.js'
import { settleFailure } from './failure.js'
import { buildTask, upsample } from './prepare.js'
import { createJobPush } from './push.js'

export { ABORT, type RunJobDeps } from './deps.js'

// Progress is saved with the lease heartbeat, at most this often, so polling clients see it.
const PROGRESS_SAVE_MS = 500

/**
 * Runs one claimed job to its end: engine → encode → blobs → complete and charge in one
 * transaction. Every write is guarded by this claim's lease token (`lease`), so a job canceled
 * or taken over meanwhile (a pause outlasted the lease) is left alone: the heartbeat that finds
 * the lease gone aborts the run, the lease is confirmed again before any file is written
 * (unless it was taken or extended under a third of a lease ago: `confirmLease`), files go
 * only under this attempt's folder, and they are removed when the completion does not land.
 */
export async function runJob(
  job: Job,
  lease: string,
  abort: AbortController,
  deps: RunJobDeps,
  leasedAt = deps.clock.now(),
): Promise<void> {
  const { store, queue, events, blobs, router, clock, logger, metrics } = deps
  const log = logger.child({ jobId: job.id, attempt: job.attempts })
  const signal = abort.signal
  const prefix = blobKeys.attempt(job.id, job.attempts)
  let progress = 0
  let saving: Promise<void> | undefined
  let lastSave = clock.now()
  // When the lease was last known ours for a whole lease from then: the claim's time, each extend's.
  let heldSince = leasedAt

  const heartbeat = () => {
    if (saving !== undefined) return
    const at = (lastSave = clock.now())
    saving = queue
      .extend(job.id, lease, progress)
      .then((ok) => {
        if (ok) heldSince = at
        else if (!signal.aborted) abort.abort(ABORT.leaseLost)
      })
      .catch((error: unknown) => log.warn({ err: error }, 'job:heartbeat-failed'))
      .finally(() => (saving = undefined))
  }
  /**
   * Before files are written: the lease is extended now, or the run ends here (lease lost). A
   * lease taken or extended less than a third of a lease ago cannot have run out, so nobody
   * else can hold it (a cancel aborts the run by its event; a late one finds the completion
   * refused, which removes the files): no statement then, as for every job shorter than that.
   */
  const confirmLease = async () => {
    await saving
    const fresh = clock.now() - heldSince < deps.leaseMs / 3
    if (!fresh && !signal.aborted && !(await queue.extend(job.id, lease, progress))) abort.abort(ABORT.leaseLost)
    if (signal.aborted) throw new EngineError('canceled', 'aborted before writing the outputs')
  }
  const timer = setInterval(heartbeat, Math.max(100, Math.floor(deps.leaseMs / 3)))
  const unsubscribe = events.subscribe(job.id, (event) => {
    if (event.type === 'cancel' && !signal.aborted) abort.abort(ABORT.canceled)
  })
  const push = deps.push ? createJobPush(deps.push, events, job.id) : undefined

  log.info({ model: job.model }, 'job:claimed')
  events.publish({ type: 'state', jobId: job.id, state: 'running' })
  const started = performance.now()
  let engineName: string | null = null
  try {
    // A create that passed auth just before its key's revocation committed can insert its job
    // after the revocation's cancel ran: canceled here, before any engine or charge.
    if ((await store.keys.get(job.apiKeyId))?.revoked_at != null) {
      const outcome = await store.jobs.cancel(job.id, clock.now(), REVOKED_MESSAGE)
      if (outcome.kind === 'canceled') events.publish({ type: 'state', jobId: job.id, state: 'canceled' })
      log.info('job:canceled (its key was revoked)')
      return
    }
    // Files of earlier attempts (a crashed worker's) are garbage now that we hold the lease. A
    // later attempt's are not ours to touch: it may be running if this claim was taken from us.
    for (let attempt = 1; attempt < job.attempts; attempt++) await blobs.deletePrefix(blobKeys.attempt(job.id, attempt))
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
      ...(push ? { push } : {}),
      progress(fraction) {
        // An upstream's odd numbers (NaN from a non-numeric step count) never reach the record.
        if (!Number.isFinite(fraction)) return
        progress = Math.min(1, Math.max(progress, fraction))
        events.publish({ type: 'progress', jobId: job.id, progress })
        if (clock.now() - lastSave >= PROGRESS_SAVE_MS) heartbeat()
      },
    })
    engineName = routed.engine
    const inferenceMs = performance.now() - engineStarted
    metrics.engineDuration.observe({ engine: routed.engine, outcome: 'ok' }, inferenceMs / 1000)

    // Local engines' outputs go through the classifier; cloud engines moderate their own, and
    // the preview engine's own renders are synthetic (safety/checker.ts: outputCheckSkipped).
    // More images than asked are not stored (nor paid for); fewer are charged for what came.
    let outputs = routed.output.images.slice(0, job.request.numImages)
    if (outputs.length === 0) throw new EngineError('failed', `${routed.engine} answered without an image`)
    let nsfw: boolean[] | undefined
    let safetyMs: number | undefined
    const skipped = outputCheckSkipped(routed, task)
    if (skipped === 'preview render' && job.request.safetyChecker && deps.safety?.checkOutput)
      log.debug({ engine: routed.engine }, 'job:output-not-classified (a synthetic preview render)')
    if (!skipped && job.request.safetyChecker && deps.safety?.checkOutput) {
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

    await confirmLease()
    const encodeStarted = performance.now()
    const images: JobImage[] = []
    for (const [index, image] of outputs.entries()) {
      const encoded = await encodeImage(image, job.request.output, job.request).catch((error: unknown) => {
        // A provider's file that does not decode: another attempt would buy it again.
        if (image.kind !== 'encoded') throw error
        throw new EngineError('failed', `${routed.engine}'s image ${index + 1} is not a readable image`, {
          cause: error,
        })
      })
      if (signal.aborted) throw new EngineError('canceled', 'aborted while writing the outputs')
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
      engineAttempts: routed.attempts,
      ...(routed.output.upstreamCostUsd === undefined ? {} : { upstreamCostUsd: routed.output.upstreamCostUsd }),
      ...(routed.output.upstreamIds?.length ? { upstreamIds: routed.output.upstreamIds } : {}),
      ...(routed.output.notHonoured?.length ? { notHonoured: routed.output.notHonoured } : {}),
    }
    // Blacked-out images are not charged, nor images the engine did not make: only the clean ones are.
    const clean = nsfw ? nsfw.filter((flag) => !flag).length : images.length
    const asked = job.request.numImages
    const costMicros = clean < asked ? Math.round((job.costMicros * clean) / asked) : undefined
    // The completion, its charge, the key's settlement (credits, period spend) and the key's
    // budget alerts it sets off: one transaction.
    let settled: Settlement | undefined
    const alerts: ReturnType<typeof budgetAlert>[] = []
    const completed = await store.transaction(async (tx) => {
      const now = clock.now()
      const done = await tx.jobs.complete(job.id, lease, { result, engine: routed.engine, now, costMicros })
      if (done && clean > 0) {
        const amount = costMicros ?? job.costMicros
        await tx.charges.insert({
          job_id: job.id,
          api_key_id: job.apiKeyId,
          model: job.model,
          images: clean,
          amount_micros: amount,
          created_at: now,
          engine: routed.engine,
          upstream_micros:
            routed.output.upstreamCostUsd === undefined ? null : usdToMicros(routed.output.upstreamCostUsd),
        })
        settled = await tx.limits.settle(job.apiKeyId, amount, now)
        const shares = settled ? sharesToAnnounce(settled) : []
        for (const percent of shares) {
          const alert = budgetAlert(job, percent, settled!, now)
          alerts.push(alert)
          const url = settled!.eventWebhookUrl
          if (url) await tx.deliveries.insertEvent({ ...alert, jobId: job.id, apiKeyId: job.apiKeyId, url, now })
        }
        if (shares.length > 0) await tx.limits.noteAlerted(job.apiKeyId, settled!.periodStart, Math.max(...shares))
      }
      return done
    })
    if (completed && alerts.length > 0) {
      const sent = settled?.eventWebhookUrl != null
      for (const alert of alerts) log.warn({ ...alert.data, ...(sent ? { deliveryId: alert.id } : {}) }, 'key:budget')
      if (sent) events.publish({ type: 'delivery', jobId: job.id })
    }
    if (!completed) {
      await blobs.deletePrefix(prefix)
      log.info('job:discarded (canceled or lease lost before completion)')
      return
    }
    metrics.jobsFinished.inc({ state: 'succeeded' })
    events.publish({ type: 'state', jobId: job.id, state: 'succeeded', webhook: Boolean(job.request.webhook) })
    log.info({ engine: routed.engine, ms: Math.round(performance.now() - started) }, 'job:succeeded')
  } catch (error) {
    await blobs.deletePrefix(prefix).catch(() => undefined)
    if (error instanceof RoutedEngineError) engineName = error.engine
    if (!(error instanceof RoutedEngineError) || error.kind !== 'canceled') {
      const outcome = isEngineError(error) ? error.kind : 'error'
      metrics.engineDuration.observe({ engine: engineName ?? 'none', outcome }, (performance.now() - started) / 1000)
    }
    await settleFailure(job, lease, error, signal.reason as AbortReason | undefined, engineName, deps, log)
  } finally {
    clearInterval(timer)
    unsubscribe()
    push?.close()
    await saving
  }
}
