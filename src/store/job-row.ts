import type { Dialect, GenerationRequest, Job, JobResult } from '../domain/job.js'
import type { ModelId } from '../domain/models.js'
import type { JobsTable } from './schema.js'

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(Number(ms)))

export function rowToJob(row: JobsTable): Job {
  const base = {
    id: row.id,
    apiKeyId: row.api_key_id,
    model: row.model as ModelId,
    dialect: row.dialect as Dialect,
    progress: row.progress,
    request: JSON.parse(row.request) as GenerationRequest,
    costMicros: Number(row.cost_micros),
    engine: row.engine,
    attempts: row.attempts,
    createdAt: new Date(Number(row.created_at)),
    startedAt: date(row.started_at),
    ...(row.deleted_at === null ? {} : { deletedAt: date(row.deleted_at) }),
    ...(row.pruned_at === null ? {} : { prunedAt: date(row.pruned_at) }),
    ...(row.favourite_at === null ? {} : { favouriteAt: date(row.favourite_at) }),
  }
  // Every write that ends a job sets finished_at (and an error code when it did not succeed).
  const finishedAt = date(row.finished_at) ?? new Date(Number(row.created_at))
  const error = { code: row.error_code ?? 'INTERNAL_ERROR', message: row.error_message ?? '' }
  switch (row.state) {
    case 'queued':
    case 'running':
      return { ...base, state: row.state, result: null, error: null, finishedAt: null }
    case 'succeeded': {
      // A deleted job's result was scrubbed: it reads as one with no images.
      const result =
        row.result === null
          ? { images: [], prompt: '', seed: base.request.seed }
          : (JSON.parse(row.result) as JobResult)
      return { ...base, state: 'succeeded', result, error: null, finishedAt }
    }
    case 'failed':
    case 'canceled':
      return { ...base, state: row.state, result: null, error, finishedAt }
    default: {
      const unknown: never = row.state
      throw new Error(`job ${row.id} is in an unknown state '${String(unknown)}'`)
    }
  }
}

export function jobToRow(job: Job): JobsTable {
  return {
    id: job.id,
    api_key_id: job.apiKeyId,
    model: job.model,
    dialect: job.dialect,
    state: job.state,
    progress: job.progress,
    request: JSON.stringify(job.request),
    result: job.result === null ? null : JSON.stringify(job.result),
    error_code: job.error?.code ?? null,
    error_message: job.error?.message ?? null,
    cost_micros: job.costMicros,
    engine: job.engine,
    attempts: job.attempts,
    priority: 0,
    run_after: job.createdAt.getTime(),
    lease_owner: null,
    lease_expires_at: null,
    created_at: job.createdAt.getTime(),
    started_at: job.startedAt?.getTime() ?? null,
    finished_at: job.finishedAt?.getTime() ?? null,
    deleted_at: null,
    pruned_at: null,
    favourite_at: job.favouriteAt?.getTime() ?? null,
  }
}
