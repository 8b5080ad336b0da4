// What the history's cards and detail view do to a job: cancel, delete, mark a favourite, and
// open one (the detail view, also from a link: #job=<id>). Each answer updates the history.
import { api, messageOf } from './common.js'
import { detail, removeFromHistory, showInHistory } from './history-state.js'
import { dropFollowed } from './playground-job.js'
import type { Job } from './playground-types.js'

/** Where an action's failure is said: the detail view when it is open, else under the form. */
function report(message: string): void {
  const open = detail.value
  if (open) detail.value = { ...open, error: message }
  else {
    const line = document.querySelector('#form-error')
    if (line) line.textContent = message
  }
}

const path = (id: string) => `/api/jobs/${encodeURIComponent(id)}`

export async function cancelJob(id: string): Promise<void> {
  try {
    showInHistory(await api<Job>(`${path(id)}/cancel`, { method: 'POST' }))
  } catch (e) {
    report(messageOf(e))
  }
}

export async function deleteJob(job: Job): Promise<void> {
  if (!confirm(`Delete this job and its images? "${job.request.prompt.slice(0, 80)}"`)) return
  try {
    await api(path(job.id), { method: 'DELETE' })
  } catch (e) {
    report(messageOf(e))
    return
  }
  removeFromHistory(job.id)
  dropFollowed(job.id)
}

export async function setFavourite(job: Job, favourite: boolean): Promise<void> {
  try {
    showInHistory(await api<Job>(path(job.id), { method: 'PATCH', body: { favourite } }))
  } catch (e) {
    report(messageOf(e))
  }
}

/** Opens a job in the detail view, read afresh (its image URLs signed now, its queue place). */
export async function openJob(id: string): Promise<void> {
  if (location.hash !== `#job=${encodeURIComponent(id)}`)
    history.replaceState(null, '', `#job=${encodeURIComponent(id)}`)
  detail.value = { id, job: null, error: null }
  try {
    const job = await api<Job>(path(id))
    if (detail.value?.id === id) detail.value = { id, job, error: null }
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
    const id = /^#job=(.+)$/.exec(location.hash)?.[1]
    if (id && detail.value?.id !== decodeURIComponent(id)) void openJob(decodeURIComponent(id))
  }
  window.addEventListener('hashchange', fromHash)
  fromHash()
}

/**
 * Downloads image `index` of a job through a URL signed now: the one shown may have expired
 * since (a download of an expired URL would save the error as the image).
 */
export async function downloadImage(jobId: string, index: number, name: string): Promise<void> {
  try {
    const image = (await api<Job>(path(jobId))).result?.images[index]
    if (!image) throw new Error('the image is gone')
    const link = document.createElement('a')
    link.href = image.url
    link.download = name
    document.body.append(link)
    link.click()
    link.remove()
  } catch (e) {
    report(`The image could not be downloaded: ${messageOf(e)}`)
  }
}
