// What the history's cards and detail view do to a job: cancel, delete, mark a favourite, and
// open one (the detail view, also from a link: #job=<id>). Each answer updates the history.
import { ApiError, api, messageOf, stateRank } from './common.js'
import { saveImage } from './downloads.js'
import { detail, marking, removeFromHistory, showInHistory } from './history-state.js'
import { dropFollowed } from './playground-job.js'
import type { Job } from './playground-types.js'

/**
 * Where an action's failure is said: the detail view when it is open, else under the form. A job
 * that is gone (deleted on another page: deletions are not on the stream) leaves the history.
 */
function report(jobId: string, error: unknown): void {
  const gone = error instanceof ApiError && error.code === 'JOB_NOT_FOUND'
  const message = gone ? 'This job is gone: it was deleted (perhaps on another page).' : messageOf(error)
  if (gone) removeFromHistory(jobId)
  const open = detail.value
  if (open) detail.value = { ...open, error: message }
  else {
    const line = document.querySelector('#form-error')
    if (line) line.textContent = message
  }
}

/** An action went through: what an earlier one said of the job open in the detail view goes. */
function done(job: Job): void {
  const open = detail.value
  if (open?.id === job.id && open.error) detail.value = { ...open, error: null }
  showInHistory(job)
}

/** The cards' and the detail view's buttons are gone with the job: focus goes to the history. */
const focusHistory = () => document.getElementById('history-title')?.focus()

const path = (id: string) => `/api/jobs/${encodeURIComponent(id)}`

export async function cancelJob(id: string): Promise<void> {
  try {
    done(await api<Job>(`${path(id)}/cancel`, { method: 'POST' }))
  } catch (e) {
    report(id, e)
  }
}

export async function deleteJob(job: Job): Promise<void> {
  if (!confirm(`Delete this job and its images? "${job.request.prompt.slice(0, 80)}"`)) return
  try {
    await api(path(job.id), { method: 'DELETE' })
  } catch (e) {
    report(job.id, e)
    return
  }
  removeFromHistory(job.id)
  dropFollowed(job.id)
  focusHistory()
}

/** Marks a job a favourite or not; its stars wait for the answer (a second click is not lost in a race). */
export async function setFavourite(job: Job, favourite: boolean): Promise<void> {
  if (marking.value.has(job.id)) return
  marking.value = new Set([...marking.value, job.id])
  try {
    done(await api<Job>(path(job.id), { method: 'PATCH', body: { favourite } }))
  } catch (e) {
    report(job.id, e)
  } finally {
    marking.value = new Set([...marking.value].filter((id) => id !== job.id))
  }
}

/** Opens a job in the detail view, read afresh (its image URLs signed now, its queue place). */
export async function openJob(id: string): Promise<void> {
  if (location.hash !== `#job=${encodeURIComponent(id)}`)
    history.replaceState(null, '', `#job=${encodeURIComponent(id)}`)
  detail.value = { id, job: null, error: null }
  try {
    const job = await api<Job>(path(id))
    const open = detail.value
    if (open?.id !== id) return
    // The stream may have told of a later state while this read was on its way.
    detail.value = {
      id,
      job: open.job && stateRank(open.job.state) >= stateRank(job.state) ? open.job : job,
      error: null,
    }
  } catch (e) {
    if (detail.value?.id === id) detail.value = { id, job: null, error: messageOf(e) }
  }
}

export function closeJob(): void {
  detail.value = null
  if (location.hash.startsWith('#job=')) history.replaceState(null, '', location.pathname + location.search)
}

/** The job a link names (`#job=<id>`), opened when the page loads and when the link changes. */
export function followJobLinks(): void {
  const fromHash = () => {
    const named = /^#job=(.+)$/.exec(location.hash)?.[1]
    let id: string
    try {
      id = decodeURIComponent(named ?? '')
    } catch {
      return // Not a link this page made (a broken %-escape): nothing to open.
    }
    if (id && id.length <= 64 && detail.value?.id !== id) void openJob(id)
  }
  window.addEventListener('hashchange', fromHash)
  fromHash()
}

/** Downloads image `index` of a job (downloads.ts: through a URL signed now). */
export async function downloadImage(jobId: string, index: number, name: string): Promise<void> {
  try {
    await saveImage(jobId, index, name)
  } catch (e) {
    report(jobId, new Error(`The image could not be downloaded: ${messageOf(e)}`))
  }
}
