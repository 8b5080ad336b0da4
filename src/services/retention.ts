import type { Logger } from 'pino'
import type { BlobStore } from '../blobs/blob-store.js'
import { blobKeys } from '../blobs/keys.js'
import type { Clock } from '../domain/clock.js'
import type { DueJob } from '../store/retention-repository.js'
import type { Store } from '../store/store.js'

/** What one sweep removed (or, in a dry run, would remove). */
export interface PruneReport {
  dryRun: boolean
  /** Finished jobs that ended before this lose their images, prompt and inputs. */
  cutoff: Date
  /** False: another process was sweeping these records (PostgreSQL), so this one did nothing. */
  ran: boolean
  jobs: number
  images: number
  /** Bytes of those images (their thumbnails go too, uncounted). */
  bytes: number
  imagePrompts: number
  idempotencyKeys: number
  webhookDeliveries: number
  webhookAttempts: number
  /** Jobs whose files could not be deleted (a bucket error): left unpruned for the next sweep. */
  failed: number
}

export interface RetentionServiceDeps {
  store: Store
  blobs: BlobStore
  clock: Clock
  logger: Logger
  /** FLUXHOST_RETENTION; null: off (a sweep then refuses to run). */
  retentionMs: number | null
  /** Jobs per batch: one select, their files, one update (default 200). */
  batchSize?: number
  /** Told which jobs were pruned, so that cached copies of them are dropped. */
  onPruned?(ids: readonly string[]): void
}

/** Deletions of files in flight at once within a batch. */
const FILE_CONCURRENCY = 8

/**
 * Retention: finished jobs older than FLUXHOST_RETENTION lose their images (outputs,
 * thumbnails, image prompts) and have their prompt and inputs scrubbed; the charges stay, so
 * usage does not change. Finished webhook deliveries of that age (with their attempts) and
 * expired idempotency keys are removed too. A sweep goes in batches, each a short select and
 * a short update: it deletes a batch's files first and marks the jobs pruned after, so a
 * sweep cut off between the two leaves jobs the next sweep takes again, never a pruned job
 * whose files stay forever.
 */
export function createRetentionService(deps: RetentionServiceDeps) {
  const { store, blobs, clock, logger } = deps
  const batchSize = deps.batchSize ?? 200

  const deleteFiles = async (jobs: readonly DueJob[]): Promise<Set<string>> => {
    const failed = new Set<string>()
    let next = 0
    const lane = async () => {
      for (let job = jobs[next++]; job; job = jobs[next++]) {
        const { id } = job
        try {
          await Promise.all([blobs.deletePrefix(blobKeys.outputs(id)), blobs.deletePrefix(blobKeys.inputs(id))])
        } catch (error) {
          failed.add(id)
          logger.warn({ err: error, jobId: id }, 'retention:files-not-deleted')
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(FILE_CONCURRENCY, jobs.length) }, lane))
    return failed
  }

  const add = (report: PruneReport, job: DueJob) => {
    report.jobs++
    report.images += job.images
    report.bytes += job.bytes
    if (job.imagePrompt) report.imagePrompts++
  }

  const sweep = async (
    report: PruneReport,
    cutoff: number,
    now: number,
    heartbeat: () => Promise<void>,
    signal?: AbortSignal,
  ) => {
    // Batch after batch in (finished_at, id) order: a job whose files could not be deleted is
    // passed over, left unmarked for the next sweep, and does not hold up the ones behind it.
    let after: DueJob | undefined
    for (;;) {
      if (signal?.aborted) return
      await heartbeat()
      const due = await store.retention.dueJobs(cutoff, batchSize, after)
      if (due.length === 0) break
      after = due[due.length - 1]
      const failed = await deleteFiles(due)
      const marked = new Set(
        await store.retention.markPruned(
          due.filter((job) => !failed.has(job.id)).map((job) => job.id),
          now,
        ),
      )
      deps.onPruned?.([...marked])
      for (const job of due) if (marked.has(job.id)) add(report, job)
      report.failed += failed.size
      if (due.length < batchSize) break
    }
    for (;;) {
      if (signal?.aborted) return
      await heartbeat()
      const ids = await store.retention.finishedDeliveries(cutoff, batchSize)
      const deleted = await store.retention.deleteDeliveries(ids, cutoff)
      report.webhookDeliveries += deleted.deliveries
      report.webhookAttempts += deleted.attempts
      if (ids.length < batchSize) break
    }
    report.idempotencyKeys += await store.idempotency.deleteExpired(now)
  }

  const count = async (report: PruneReport, cutoff: number, now: number) => {
    let after: DueJob | undefined
    for (;;) {
      const page = await store.retention.dueJobs(cutoff, batchSize, after)
      for (const job of page) add(report, job)
      after = page[page.length - 1]
      if (page.length < batchSize) break
    }
    const others = await store.retention.countOthers(cutoff, now)
    report.webhookDeliveries = others.deliveries
    report.webhookAttempts = others.attempts
    report.idempotencyKeys = others.keys
  }

  const prune = async (options: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<PruneReport> => {
    if (deps.retentionMs === null) throw new Error('retention is off: set FLUXHOST_RETENTION (e.g. 30d)')
    const dryRun = options.dryRun ?? false
    const now = clock.now()
    const cutoff = now - deps.retentionMs
    const report: PruneReport = {
      dryRun,
      cutoff: new Date(cutoff),
      ran: true,
      jobs: 0,
      images: 0,
      bytes: 0,
      imagePrompts: 0,
      idempotencyKeys: 0,
      webhookDeliveries: 0,
      webhookAttempts: 0,
      failed: 0,
    }
    if (dryRun) {
      await count(report, cutoff, now)
      return report
    }
    const outcome = await store.retention.exclusive((heartbeat) =>
      sweep(report, cutoff, now, heartbeat, options.signal),
    )
    if (!outcome.ran) report.ran = false
    return report
  }

  return {
    retentionMs: deps.retentionMs,
    prune,

    /**
     * Sweeps in the background: once `firstAfterMs` after this call, then `everyMs` after the
     * end of each sweep. Timers do not keep the process alive; `stop` ends the sweep in
     * progress after its current batch and waits for it.
     */
    schedule(options: { firstAfterMs?: number; everyMs?: number } = {}): { stop(): Promise<void> } {
      const { firstAfterMs = 60_000, everyMs = 3_600_000 } = options
      const controller = new AbortController()
      let running: Promise<void> | undefined
      let timer: NodeJS.Timeout | undefined
      const later = (ms: number) => {
        if (controller.signal.aborted) return
        timer = setTimeout(tick, ms)
        timer.unref()
      }
      const tick = () => {
        running = prune({ signal: controller.signal })
          .then(
            (report) => {
              const { cutoff, dryRun, ...counts } = report
              if (!report.ran) logger.debug('retention:another-process-is-sweeping')
              else if (report.failed > 0) logger.warn({ cutoff, ...counts }, 'retention:pruned-with-failures')
              else if (Object.values(counts).some((n) => typeof n === 'number' && n > 0))
                logger.info({ cutoff, ...counts }, 'retention:pruned')
            },
            (error: unknown) => logger.warn({ err: error }, 'retention:sweep-failed'),
          )
          .finally(() => {
            running = undefined
            later(everyMs)
          })
      }
      later(firstAfterMs)
      return {
        async stop() {
          controller.abort()
          clearTimeout(timer)
          await running
        },
      }
    },
  }
}

export type RetentionService = ReturnType<typeof createRetentionService>
