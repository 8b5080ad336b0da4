import type { Dialect, GenerationRequest, Job, JobResult } from '../domain/job.js'
import type { ModelId } from '../domain/models.js'
import type { JobsTable } from './schema.js'

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(Number(ms)))

export function rowToJob(row: JobsTable): Job {
  return {
    id: row.id,
    apiKeyId: row.api_key_id,
    model: row.model as ModelId,
    dialect: row.dialect as Dialect,
    state: row.state,
    progress: row.progress,
    request: JSON.parse(row.request) as GenerationRequest,
    result: row.result === null ? null : (JSON.parse(row.result) as JobResult),
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    costMicros: Number(row.cost_micros),
    engine: row.engine,
    attempts: row.attempts,
    createdAt: new Date(Number(row.created_at)),
    startedAt: date(row.started_at),
    finishedAt: date(row.finished_at),
    ...(row.deleted_at === null ? {} : { deletedAt: date(row.deleted_at) }),
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
  }
}
