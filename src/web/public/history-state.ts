// The history's state, as signals the gallery's components read: the key's jobs loaded so far
// (newest first), the filters, the next page's cursor and the job open in the detail view.
// Changes come from three ways — the page's loads, the live stream, and the answers to the
// gallery's own calls — in any order: an older state of a job never replaces a newer one.
import { signal } from '@preact/signals'
import { api, getKey, messageOf, stateRank } from './common.js'
import type { Job } from './playground-types.js'

export const jobs = signal<readonly Job[]>([])
/** Where the next page starts; null: none (every job matching the filters is loaded). */
export const cursor = signal<string | null>(null)
/** What the history says when it shows no card. */
export const notice = signal('Your jobs appear here.')
/** Why the last load failed (the cards loaded before stay); null when it did not. */
export const loadError = signal<string | null>(null)
export const filter = {
  prompt: signal(''),
  model: signal(''),
  state: signal(''),
  favourites: signal(false),
}
export const models = signal<readonly { id: string; name: string }[]>([])
/** The job open in the detail view: its id, its record once read, or why it could not be. */
export const detail = signal<{ id: string; job: Job | null; error: string | null } | null>(null)
/** The jobs whose favourite mark is being sent: their stars wait for the answer. */
export const marking = signal<ReadonlySet<string>>(new Set())

// Each change the page heard (stream, its own calls) is numbered, and the latest few kept: a load
// sent before a change must not put back the older record it read.
let changes = 0
const recent = new Map<string, { seq: number; job: Job }>()
// Each load is numbered: the answer of an older one (filters changed meanwhile) is dropped.
let loads = 0
// A fresh load (not "more") in flight: the next page waits for it, or it would page the old list.
let fresh = false

/** Whichever of a loaded record and one heard since the load was sent is the newer. */
function newest(loaded: Job, sentAt: number): Job {
  const heard = recent.get(loaded.id)
  return heard && heard.seq > sentAt && stateRank(heard.job.state) >= stateRank(loaded.state) ? heard.job : loaded
}

/** The filters as query parameters (empty when none is set). */
export function filters(): URLSearchParams {
  const query = new URLSearchParams()
  const prompt = filter.prompt.value.trim()
  if (prompt) query.set('prompt', prompt)
  if (filter.model.value) query.set('model', filter.model.value)
  if (filter.state.value) query.set('state', filter.state.value)
  if (filter.favourites.value) query.set('favourite', 'true')
  return query
}

/**
 * Shows a change of one of the key's jobs: its card (and the detail view, if open on it) takes
 * it; a job the history has no card of, made since it was loaded, comes in at the top.
 */
export function showInHistory(job: Job): void {
  recent.delete(job.id)
  recent.set(job.id, { seq: ++changes, job })
  if (recent.size > 500) recent.delete(recent.keys().next().value!)
  const open = detail.value
  if (open?.id === job.id && (!open.job || stateRank(open.job.state) <= stateRank(job.state)))
    detail.value = { ...open, job }
  const list = jobs.value
  const at = list.findIndex((known) => known.id === job.id)
  // Showing favourites only: one unmarked (here or on another page) leaves.
  if (filter.favourites.value && !job.favourite) {
    if (at >= 0) jobs.value = list.filter((known) => known.id !== job.id)
    return
  }
  if (at >= 0) {
    // (A create's answer can come after the stream's news of the job running.)
    if (stateRank(list[at]!.state) <= stateRank(job.state))
      jobs.value = list.map((known, i) => (i === at ? job : known))
    return
  }
  // With a filter set, a new job waits for the next load (it may not match, or not yet).
  if (filters().size > 0) return
  const newest = list[0]?.id
  if (newest !== undefined && job.id < newest) return
  jobs.value = [job, ...list]
}

/** Takes a deleted job out of the history (and closes its detail view). */
export function removeFromHistory(jobId: string): void {
  jobs.value = jobs.value.filter((job) => job.id !== jobId)
  if (detail.value?.id === jobId) detail.value = null
}

/** Empties the history (no key to read it with), saying why. */
export function clearHistory(message: string): void {
  // A load in flight (of the key before) is dropped when it answers.
  loads++
  fresh = false
  jobs.value = []
  cursor.value = null
  loadError.value = null
  notice.value = message
  detail.value = null
}

/** The ids of the unfinished jobs the history shows (polled while the live stream is down). */
export const unfinishedInHistory = (): string[] =>
  jobs.value.filter((job) => job.state === 'queued' || job.state === 'running').map((job) => job.id)

/** Loads the first page of the history as the filters say, or (`more`) the next page. */
export async function loadHistory(more = false): Promise<void> {
  if (!getKey()) return
  if (more && (fresh || !cursor.value)) return
  if (!more) fresh = true
  const query = filters()
  query.set('limit', '12')
  if (more && cursor.value) query.set('cursor', cursor.value)
  const load = ++loads
  const sentAt = changes
  try {
    const page = await api<{ data: Job[]; nextCursor: string | null }>(`/api/jobs?${query}`)
    if (load !== loads) return
    cursor.value = page.nextCursor
    loadError.value = null
    const loaded = page.data.map((job) => newest(job, sentAt))
    jobs.value = more ? [...jobs.value, ...loaded.filter((job) => !jobs.value.some((j) => j.id === job.id))] : loaded
    notice.value = filters().size > 0 ? 'No job matches these filters.' : 'Your jobs appear here.'
  } catch (e) {
    if (load !== loads) return
    loadError.value = messageOf(e)
  } finally {
    if (load === loads && !more) fresh = false
  }
}
