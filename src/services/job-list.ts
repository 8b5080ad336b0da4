import type { ApiKey } from '../domain/api-key.js'
import type { Job } from '../domain/job.js'
import type { ListJobsFilter } from '../store/job-repository.js'
import type { Store } from '../store/store.js'

export const MAX_LIST_LIMIT = 100
/** How many jobs one search looks at, at most: its cost is bounded whatever is searched. */
export const SEARCH_SCAN_LIMIT = 2000

/**
 * A page of `list`: its size (1–100), the cursor (the last id of the page before), filters, and
 * `prompt`: only jobs whose prompt contains this text (any case).
 */
export type ListJobsOptions = Partial<Omit<ListJobsFilter, 'apiKeyId' | 'before'> & { cursor: string; prompt: string }>

/**
 * A page of a key's jobs (every key's without one), newest first. A search by prompt looks at
 * SEARCH_SCAN_LIMIT jobs at most per page: when it stops there, `nextCursor` goes on from the
 * last job it looked at, so a page may hold fewer matches than `limit` and still have a next one.
 */
export async function listJobs(
  store: Store,
  apiKey: ApiKey | undefined,
  options: ListJobsOptions,
): Promise<{ jobs: Job[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(options.limit ?? 20, 1), MAX_LIST_LIMIT)
  const { state, model, favourite, cursor: before, prompt } = options
  const filter = { apiKeyId: apiKey?.id, state, model, favourite, before, limit: limit + 1 }
  const { jobs, scannedTo } =
    prompt === undefined
      ? { jobs: await store.jobs.list(filter), scannedTo: null }
      : await store.jobs.search(filter, prompt, SEARCH_SCAN_LIMIT)
  const page = jobs.slice(0, limit)
  return { jobs: page, nextCursor: jobs.length > limit ? page[page.length - 1]!.id : scannedTo }
}
