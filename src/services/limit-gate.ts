import type { ApiKey } from '../domain/api-key.js'
import type { Clock } from '../domain/clock.js'
import { FluxhostError } from '../domain/errors.js'
import type { Job } from '../domain/job.js'
import type { KeyStanding, LimitDefaults, LimitReason } from '../domain/limits.js'
import { ReservationRefused } from '../store/insert-batcher.js'
import type { Store } from '../store/store.js'
import { isLimited, limitReached, quotaOf, type RateQuota, refusal, standingOf } from './limits.js'

/**
 * The check of a create against its key's limits: `applies` says whether the key has any in
 * force, `check` refuses early (a hint, before costly work), `reserve` is the binding check,
 * the guarded statement, in the job insert's transaction.
 */
export function createLimitGate(deps: {
  clock: Clock
  defaults: LimitDefaults
  onRefusal?(reason: LimitReason): void
}) {
  const { clock, defaults } = deps
  const refuse = (reason: LimitReason, standing: KeyStanding, costMicros: number, now: number) => {
    deps.onRefusal?.(reason)
    return refusal(reason, standing, costMicros, now)
  }
  const check = async (from: Store, apiKeyId: string, costMicros: number): Promise<void> => {
    const row = await from.limits.get(apiKeyId)
    if (!row) return
    const now = clock.now()
    const standing = standingOf(row, defaults, now)
    const reason = limitReached(standing, costMicros)
    if (reason) throw refuse(reason, standing, costMicros, now)
  }
  return {
    applies: (key: ApiKey) => isLimited(key, defaults),
    check,
    /**
     * Reserves the job's price and inserts the job (store.jobs.insertReserved: in `into`'s
     * transaction, or the next group commit); throws the refusal when a limit leaves no room.
     * Returns the per-minute window of a rate-limited key.
     */
    async insert(into: Store, job: Job): Promise<RateQuota | undefined> {
      for (let attempt = 1; ; attempt++) {
        const now = clock.now()
        try {
          const row = await into.jobs.insertReserved(job, { now, defaults })
          return quotaOf(standingOf(row, defaults, now), now)
        } catch (error) {
          if (!(error instanceof ReservationRefused)) throw error
          const standing = error.standing && standingOf(error.standing, defaults, now)
          const reason = standing && limitReached(standing, job.costMicros)
          if (reason) throw refuse(reason, standing, job.costMicros, now)
          // Room again by the time of the read (a job ended meanwhile): one more try, then a plain 429.
          if (attempt >= 2) {
            deps.onRefusal?.('concurrency')
            throw new FluxhostError('CONCURRENCY_LIMITED', { retryAfterS: 1 })
          }
        }
      }
    },
  }
}
