import type { Kysely, Selectable } from 'kysely'
import { compileByShape, lit } from './compiled.js'
import type { Database, JobsTable } from './schema.js'

export type FinishValues = { id: string; owner: string; now: number; [set: `set:${string}`]: unknown }

/**
 * The hot statements of a job's life, compiled once per store (from its root Kysely instance)
 * and run on whichever connection or transaction the repository is bound to (compiled.ts).
 */
export function compileTransitionQueries(db: Kysely<Database>, kind: 'sqlite' | 'postgres') {
  const finishQuery = compileByShape<Selectable<JobsTable>, FinishValues, (keyof JobsTable)[]>((slot, ...columns) =>
    db
      .updateTable('jobs')
      .set({
        ...Object.fromEntries(columns.map((column) => [column, slot(`set:${column}`)])),
        finished_at: slot('now'),
        lease_owner: null,
        lease_expires_at: null,
      })
      .where('id', '=', slot('id'))
      .where('state', '=', lit('running'))
      .where('lease_owner', '=', slot('owner'))
      .returningAll(),
  )
  /** The heartbeat's statement. */
  const extendQuery = compileByShape<never, { id: string; owner: string; expiresAt: number; progress: number }, []>(
    (slot) =>
      db
        .updateTable('jobs')
        .set({ lease_expires_at: slot('expiresAt'), progress: slot('progress') })
        .where('id', '=', slot('id'))
        .where('state', '=', lit('running'))
        .where('lease_owner', '=', slot('owner')),
  )

  /** The claim's statement, compiled once per shape: one key's head, the fair turn or the global head. */
  const claimQuery = compileByShape<
    Selectable<JobsTable>,
    { owner: string; now: number; expiresAt: number; apiKeyId: string; exclude: readonly string[] },
    [byKey: boolean, fair: boolean, excluded: number]
  >((slot, byKey, fair, excluded) => {
    const now = slot('now')
    const exclude = Array.from({ length: excluded }, (_, i) => slot(`exclude#${i}`))
    return db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running' as const,
        lease_owner: slot('owner'),
        lease_expires_at: slot('expiresAt'),
        attempts: eb('attempts', '+', 1),
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
      }))
      .where('id', '=', (eb) => {
        let head = eb.selectFrom('jobs').select('id').where('state', '=', lit('queued')).where('run_after', '<=', now)
        if (byKey) head = head.where('api_key_id', '=', slot('apiKeyId'))
        else if (fair)
          head = head.where('api_key_id', '=', (k) =>
            k
              .selectFrom('api_keys as k')
              .select('k.id')
              .where('k.active_jobs', '<>', 0) // (not `> 0`: a counter gone wrong must not hide a key)
              .where(({ exists, selectFrom }) => {
                let ready = selectFrom('jobs as q')
                  .select('q.id')
                  .whereRef('q.api_key_id', '=', 'k.id')
                  .where('q.state', '=', lit('queued'))
                  .where('q.run_after', '<=', now)
                if (excluded > 0) ready = ready.where('q.id', 'not in', exclude)
                return exists(ready)
              })
              .orderBy('k.served_seq')
              .orderBy('k.id')
              .limit(1),
          )
        if (excluded > 0) head = head.where('id', 'not in', exclude)
        head = head.orderBy('priority', 'desc').orderBy('run_after').orderBy('id').limit(1)
        return kind === 'postgres' ? head.forUpdate().skipLocked() : head
      })
      .where('state', '=', lit('queued'))
      .returningAll()
  })
  return { finishQuery, extendQuery, claimQuery }
}
