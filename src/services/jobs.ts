import type { Logger } from 'pino'
import type { BlobStore } from '../blobs/blob-store.js'
import { blobKeys } from '../blobs/keys.js'
import type { ApiKey } from '../domain/api-key.js'
import type { Clock } from '../domain/clock.js'
import { FluxhostError, validationError } from '../domain/errors.js'
import { type Dialect, type GenerationRequest, isTerminal, type Job } from '../domain/job.js'
import type { LimitDefaults, LimitReason } from '../domain/limits.js'
import type { ModelId } from '../domain/models.js'
import { usdToMicros } from '../domain/money.js'
import { checkRequest } from '../domain/validate.js'
import type { EngineRouter } from '../engines/router.js'
import type { Outbound } from '../net/outbound.js'
import { failpoint } from '../observability/failpoint.js'
import type { JobEventListener, JobEvents } from '../queue/job-events.js'
import type { JobQueue } from '../queue/job-queue.js'
import type { Store } from '../store/store.js'
import { createFinishedJobs } from './finished-jobs.js'
import type { Hold } from './idempotency.js'
import { type ImagePromptInput, loadImagePrompt } from './image-prompt.js'
import { markFavourite } from './job-favourites.js'
import { type ListJobsOptions, listJobs } from './job-list.js'
import { createLimitGate } from './limit-gate.js'
import type { RateQuota } from './limits.js'
import { vetWebhookUrl } from './webhook-url.js'

export interface CreateJobInput {
  apiKey: ApiKey
  dialect: Dialect
  /** The canonical request; a missing seed is drawn here and recorded. */
  request: Omit<GenerationRequest, 'seed' | 'imagePrompt'> & { seed?: number | null }
  imagePrompt?: ImagePromptInput
  /** Where the client put the webhook URL, for errors (default `['body', 'webhook_url']`). */
  webhookLoc?: (string | number)[]
  /**
   * The request's hold on its Idempotency-Key: the job and the key's binding to it are
   * written in one transaction, so a resend after any crash replays this job.
   */
  idempotency?: Hold
  /** Told the key's per-minute window after an accepted create, when the key has a rate limit. */
  onQuota?: (quota: RateQuota) => void
}

export interface JobServiceDeps {
  store: Store
  queue: JobQueue
  events: JobEvents
  blobs: BlobStore
  router: EngineRouter
  outbound: Outbound
  clock: Clock
  logger: Logger
  newJobId(): string
  newSeed(): number
  pricesUsd: Readonly<Record<ModelId, number>>
  allowSimulate: boolean
  /** Seals BFL's per-job `webhook_secret` (sent back in X-Webhook-Secret) before it is written. */
  secrets: { seal(plain: string, context: string): string }
  /** How often a waiter re-reads a job in case its events come from another process. */
  waitPollMs?: number
  /** The server's default limits per key (FLUXHOST_KEY_*). */
  limitDefaults: LimitDefaults
  /** Told of every create refused by a key's limits (the refusals metric). */
  onRefusal?(reason: LimitReason): void
}
/** The job use cases the API and CLI call: create, get, list, cancel, wait. */
export function createJobService(deps: JobServiceDeps) {
  const { store, queue, events, blobs, router, clock, logger } = deps
  const waitPollMs = deps.waitPollMs ?? 1000
  const gate = createLimitGate({ clock, defaults: deps.limitDefaults, onRefusal: deps.onRefusal })

  const finished = createFinishedJobs(store)
  // Progress of the jobs this process runs, as it happens: the records get it with the lease
  // heartbeat (at most twice a second, and a database round trip later), so reads here
  // show whichever is further along.
  const live = new Map<string, number>()
  events.subscribeAll((event) => {
    if (event.type === 'progress') {
      if (live.size >= 10_000 && !live.has(event.jobId)) live.clear() // entries of jobs aborted elsewhere
      live.set(event.jobId, event.progress)
    } else if (event.type === 'cancel' || (event.type === 'state' && event.state !== 'running'))
      live.delete(event.jobId)
    // A finished job changed (in any process): the copy here is old. (Heard before the key
    // streams reread it: this listener is the first.)
    if (event.type === 'changed') finished.forget(event.jobId)
  })
  const read = async (id: string): Promise<Job | undefined> => {
    const job = await finished.read(id)
    const progress = live.get(id)
    return job && job.state === 'running' && progress !== undefined && progress > job.progress
      ? { ...job, progress }
      : job
  }

  const getOwned = async (id: string, apiKey: ApiKey | undefined): Promise<Job> => {
    const job = id.length <= 64 ? await read(id) : undefined
    // Another key's job reads exactly like a missing one: ids must not leak across keys.
    if (!job || job.deletedAt || (apiKey && job.apiKeyId !== apiKey.id)) throw new FluxhostError('JOB_NOT_FOUND')
    return job
  }

  return {
    async create(input: CreateJobInput): Promise<Job> {
      const request: GenerationRequest = { ...input.request, seed: input.request.seed ?? deps.newSeed() }
      const issues = checkRequest(request)
      if (issues.length > 0) throw validationError(issues)
      const refused = router.refusal(request.model, { imagePrompt: input.imagePrompt !== undefined })
      if (refused) throw validationError([{ loc: ['body', 'image_prompt'], msg: refused, type: 'value_error' }])
      if (request.simulate?.rateLimited && router.simulates(request.model, deps.allowSimulate)) {
        throw new FluxhostError('RATE_LIMITED', {
          message: 'simulated: too many requests (X-Fluxhost-Simulate)',
          retryAfterS: 2,
        })
      }
      if (request.simulate && !router.simulates(request.model, deps.allowSimulate)) delete request.simulate
      if (request.webhook) await vetWebhookUrl(deps.outbound, request.webhook.url, input.webhookLoc)
      const costMicros = usdToMicros(deps.pricesUsd[request.model]) * request.numImages
      const limited = gate.applies(input.apiKey)
      // A key already at its limit is told so before an image prompt is fetched (a hint: the reservation decides).
      if (limited && input.imagePrompt) await gate.check(store, input.apiKey.id, costMicros)
      // Fetched (for a URL) only once everything else is known to be valid.
      const image = input.imagePrompt ? await loadImagePrompt(input.imagePrompt, deps.outbound) : undefined

      const id = deps.newJobId()
      const now = clock.now()
      // A secret of the client's at rest: sealed, opened only by the webhook dispatcher.
      if (request.webhook?.secret)
        request.webhook = { ...request.webhook, secret: deps.secrets.seal(request.webhook.secret, `job:${id}`) }
      if (input.imagePrompt && image) {
        const key = blobKeys.imagePrompt(id, image.probe.format)
        await blobs.put(key, image.data, `image/${image.probe.format}`)
        request.imagePrompt = { key, strength: input.imagePrompt.strength }
      }
      const job: Job = {
        id,
        apiKeyId: input.apiKey.id,
        model: request.model,
        dialect: input.dialect,
        state: 'queued',
        progress: 0,
        request,
        result: null,
        error: null,
        costMicros,
        engine: null,
        attempts: 0,
        createdAt: new Date(now),
        startedAt: null,
        finishedAt: null,
      }
      const hold = input.idempotency
      let quota: RateQuota | undefined
      try {
        // The row is the queue entry (one insert, never half-written) and the reservation of a
        // limited key (its trigger counts the job against the key): with the guarded check
        // and the Idempotency-Key's binding, in one transaction (a group commit without a key).
        const write = async (into: Store) => {
          if (limited) quota = await gate.insert(into, job)
          else await into.jobs.insert(job)
        }
        if (!hold) await write(store)
        else
          await store.transaction(async (tx) => {
            await write(tx)
            if (hold && !(await tx.idempotency.attachJob(hold.apiKeyId, hold.key, hold.holder, id)))
              throw new FluxhostError('IDEMPOTENCY_KEY_IN_USE', {
                message: 'This request held its Idempotency-Key too long and lost it; send it again.',
                retryAfterS: 1,
              })
          })
        failpoint('job-created')
      } catch (error) {
        if (request.imagePrompt) await blobs.deletePrefix(blobKeys.inputs(id))
        throw error
      }
      // Wakes idle workers, here at once and in other processes over the records' channel.
      events.publish({ type: 'state', jobId: id, state: 'queued' })
      if (quota) input.onQuota?.(quota)
      logger.debug({ jobId: id, model: job.model, dialect: job.dialect, keyId: job.apiKeyId }, 'job:created')
      return job
    },

    /** The job, if `apiKey` owns it (no key: operator access from the local CLI). */
    get: getOwned,

    /** How many queued jobs will run before this one (0 when it is next or not queued). */
    async queuePosition(id: string): Promise<number> {
      return (await queue.positionOf(id)) ?? 0
    },

    /** State and progress events of one job; check ownership with `get` first. */
    subscribe: (id: string, listener: JobEventListener) => events.subscribe(id, listener),

    /** Marks the key's job a favourite, or not (job-favourites.ts). */
    async setFavourite(id: string, apiKey: ApiKey | undefined, favourite: boolean): Promise<Job> {
      const forget = (jobId: string) => finished.forget(jobId)
      return markFavourite({ store, events, clock, forget }, await getOwned(id, apiKey), favourite)
    },

    /** A page of the key's jobs (job-list.ts). */
    list: (apiKey: ApiKey | undefined, options: ListJobsOptions = {}) => listJobs(store, apiKey, options),

    /**
     * Cancels a queued or running job: the record turns `canceled` at once and the worker
     * running it (if any) is told to abort. Canceling a canceled job is a no-op.
     */
    async cancel(id: string, apiKey: ApiKey | undefined): Promise<Job> {
      const current = await getOwned(id, apiKey)
      // A running job may be on an engine that cannot stop its task upstream: say so.
      const upstream =
        current.state === 'running'
          ? router.enginesFor(current.model).find((engine) => engine.cancelsUpstream === false)
          : undefined
      const message = upstream
        ? `The job was canceled. If ${upstream.name} had started it, ${upstream.name} cannot cancel a task: ` +
          'it may still finish there, and be billed there.'
        : undefined
      const outcome = await store.jobs.cancel(id, clock.now(), message)
      if (outcome.kind === 'not_found') throw new FluxhostError('JOB_NOT_FOUND')
      if (outcome.kind === 'finished') {
        if (outcome.job.state === 'canceled') return outcome.job
        throw new FluxhostError('JOB_NOT_CANCELABLE', {
          message: `The job has already ${outcome.job.state} and cannot be canceled.`,
        })
      }
      events.publish({ type: 'cancel', jobId: id })
      events.publish({ type: 'state', jobId: id, state: 'canceled' })
      // Files an earlier, crashed attempt may have left; the running worker removes its own.
      await blobs.deletePrefix(blobKeys.outputs(id))
      logger.info({ jobId: id }, 'job:canceled')
      return outcome.job
    },

    /**
     * Deletes a finished job: it disappears from every read and its images (and image
     * prompt) are removed; the record stays, unseen, because its charge refers to it.
     */
    async delete(id: string, apiKey: ApiKey | undefined): Promise<void> {
      const current = await getOwned(id, apiKey)
      if (!isTerminal(current.state)) throw new FluxhostError('JOB_NOT_FINISHED')
      const deleted = await store.jobs.markDeleted(id, clock.now())
      if (!deleted) throw new FluxhostError('JOB_NOT_FOUND')
      finished.forget(id)
      // The key's streams (in every process) say it is gone: its other pages take it out.
      events.publish({ type: 'changed', jobId: id })
      await Promise.all([blobs.deletePrefix(blobKeys.outputs(id)), blobs.deletePrefix(blobKeys.inputs(id))])
      logger.info({ jobId: id }, 'job:deleted')
    },

    /** Drops cached copies of jobs changed behind this service's back (retention pruned them). */
    forget(ids: readonly string[]): void {
      for (const id of ids) finished.forget(id)
    },

    /** Resolves with the job once it is terminal; rejects when `signal` aborts. */
    async wait(id: string, apiKey: ApiKey | undefined, signal?: AbortSignal): Promise<Job> {
      for (;;) {
        signal?.throwIfAborted()
        let changed!: () => void
        const stateChanged = new Promise<void>((resolve) => (changed = resolve))
        const unsubscribe = events.subscribe(id, (event) => {
          if (event.type === 'state' && isTerminal(event.state)) changed() // (a `running` costs no read)
        })
        try {
          const job = await getOwned(id, apiKey)
          if (isTerminal(job.state)) return job
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer)
              signal?.removeEventListener('abort', done)
              resolve()
            }
            const timer = setTimeout(done, waitPollMs)
            signal?.addEventListener('abort', done, { once: true })
            void stateChanged.then(done)
          })
        } finally {
          unsubscribe()
        }
      }
    },
  }
}

export type JobService = ReturnType<typeof createJobService>
