import { setTimeout as sleep } from 'node:timers/promises'
import type { Claim, ClaimFilter } from '../queue/job-queue.js'
import { newOwnerId } from '../queue/owner.js'
import { ABORT, type RunJobDeps, runJob } from './run-job.js'

export interface RunnerOptions extends RunJobDeps {
  concurrency: number
  /** Lease owner id; one per process incarnation (each claim's lease token is made from it). */
  owner?: string
  /** Claim only these jobs (the CLI's in-process worker runs only its own). */
  filter?: ClaimFilter
}

export interface Runner {
  readonly owner: string
  /** Recovers orphaned jobs, then claims and runs jobs until stopped. */
  start(): Promise<void>
  /**
   * Stops claiming, gives running jobs `graceMs` to finish, then aborts the rest and puts
   * them back in the queue. Resolves when no job is running.
   */
  stop(graceMs: number): Promise<void>
  running(): number
  /** Resolves when the job is no longer running here (at once if it is not). */
  settled(jobId: string): Promise<void>
}

export function createRunner(options: RunnerOptions): Runner {
  const { queue, logger, concurrency, leaseMs } = options
  const owner = options.owner ?? newOwnerId()
  // The jobs running here, by id: recovery leaves them alone and claims pass them over, so this
  // process never runs a job twice, even when a pause (GC, SIGSTOP) outlasted a lease.
  const active = new Map<string, { abort: AbortController; done: Promise<void> }>()
  const stopping = new AbortController()
  let loop: Promise<void> | undefined
  let recoveryTimer: NodeJS.Timeout | undefined

  const recover = async () => {
    try {
      const report = await queue.recover(owner, active)
      if (report.requeued.length || report.abandoned.length) logger.warn(report, 'queue:recovered')
      // Abandoned jobs have ended: waiters, streams and webhooks learn it now.
      for (const jobId of report.abandoned) options.events.publish({ type: 'state', jobId, state: 'failed' })
    } catch (error) {
      logger.error({ err: error }, 'queue:recover-failed')
    }
  }

  const launch = ({ job, lease, leasedAt }: Claim) => {
    const abort = new AbortController()
    const done = runJob(job, lease, abort, options, leasedAt)
      .catch((error: unknown) => logger.error({ err: error, jobId: job.id }, 'job:runner-error'))
      .finally(() => active.delete(job.id))
    active.set(job.id, { abort, done })
  }

  const stopped = new Promise<void>((resolve) =>
    stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
  )

  const claimLoop = async () => {
    while (!stopping.signal.aborted) {
      if (active.size >= concurrency) {
        // Also wake on stop: `stop` waits for this loop before it aborts running jobs.
        await Promise.race([stopped, ...[...active.values()].map((a) => a.done)])
        continue
      }
      try {
        const filter = { ...options.filter, exclude: [...active.keys()] }
        const claim = await queue.claim(owner, filter)
        if (claim) launch(claim)
        // After a claim too: the wait ends at once when more work is due (one cheap read),
        // where another claim would cost two writes whenever the queue is empty.
        await queue.waitForWork(stopping.signal, {
          filter: claim ? { ...filter, exclude: [...active.keys()] } : filter,
        })
      } catch (error) {
        // The records are away: log, pause, try again (never end the loop).
        logger.error({ err: error }, 'queue:claim-failed')
        await sleep(1000, undefined, { signal: stopping.signal }).catch(() => undefined)
      }
    }
  }

  return {
    owner,

    async start() {
      await recover()
      // Half a lease: an orphaned job waits at most 1.5 leases before it runs again.
      recoveryTimer = setInterval(() => void recover(), Math.max(250, Math.floor(leaseMs / 2)))
      recoveryTimer.unref()
      loop = claimLoop()
    },

    async stop(graceMs) {
      stopping.abort()
      clearInterval(recoveryTimer)
      await loop
      if (active.size === 0) return
      logger.info({ running: active.size, graceMs }, 'runner:draining')
      let timer: NodeJS.Timeout | undefined
      const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))
      await Promise.race([Promise.all([...active.values()].map((a) => a.done)), graceOver])
      clearTimeout(timer)
      for (const { abort } of active.values()) abort.abort(ABORT.shutdown)
      await Promise.all([...active.values()].map((a) => a.done))
    },

    running: () => active.size,

    settled: (jobId) => active.get(jobId)?.done ?? Promise.resolve(),
  }
}
