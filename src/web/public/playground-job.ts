// The current job: POST /api/jobs, then its changes as the page's live stream brings them
// (live.ts, wired in app.ts: onLiveJob, onLiveProgress), its images once it succeeds, and the
// Cancel button while it runs. What the result panel draws is playground-result.ts.
import { $, ApiError, api, messageOf, stateRank } from './common.js'
import { fields, requestBody, settings, settingsChanged } from './playground-form.js'
import { placeholder, resultImages, setProgress, statusText } from './playground-result.js'
import type { Job } from './playground-types.js'

export type { Job } from './playground-types.js'

let following: { id: string } | undefined
// The latest record the live stream brought of each recent job: its events can come before the
// answer to the create that made it.
const latest = new Map<string, Job>()

// What runs with a job this module made or canceled (the history shows it); set by app.ts.
let jobsChanged: (job: Job) => void = () => undefined
export function onJobsChanged(listener: (job: Job) => void): void {
  jobsChanged = listener
}

// The job the status line shows, and its ticker while it is unfinished (elapsed time; for a
// queued job, its place in the queue, read every 2 s).
let shown: Job | undefined
let ticker: ReturnType<typeof setInterval> | undefined

const unfinished = (job: Job) => job.state === 'queued' || job.state === 'running'

function tick() {
  if (!shown || !unfinished(shown)) return
  $('#job-status').textContent = statusText(shown)
  if (shown.state !== 'queued' || Math.floor(Date.now() / 1000) % 2 !== 0) return
  api<Job>(`/api/jobs/${shown.id}`).then(
    (fresh) => onLiveJob(fresh),
    () => undefined,
  )
}

function showJob(job: Job) {
  const status = $('#job-status')
  const images = $('#images')
  const previous = shown
  // A stream's record has no queue position: keep the last one read while it is still queued.
  shown = job.state === 'queued' && previous?.id === job.id ? { queuePosition: previous.queuePosition, ...job } : job
  status.textContent = statusText(shown)
  status.dataset.state = job.state
  clearInterval(ticker)
  const running = unfinished(job)
  if (running) {
    ticker = setInterval(tick, 1000)
    if (previous?.id !== job.id || !images.querySelector('.placeholder-image')) images.replaceChildren(placeholder(job))
  } else if (job.state !== 'succeeded') images.replaceChildren()
  setProgress(job.progress ?? 0)
  // Focus follows the button that can act now (a disabled or hidden one drops it).
  const submit = $<HTMLButtonElement>('#submit')
  const cancel = $<HTMLButtonElement>('#cancel')
  const focused = document.activeElement
  cancel.hidden = !running
  submit.disabled = running
  if (running && (focused === submit || focused === document.body)) cancel.focus()
  if (!running && (focused === cancel || focused === document.body)) submit.focus()
  if (job.state === 'succeeded') images.replaceChildren(...resultImages(job))
}

/** Shows `job` as the current one; its later changes come from the live stream. */
export function follow(job: Job): void {
  following = { id: job.id }
  const known = latest.get(job.id)
  showJob(known && stateRank(known.state) >= stateRank(job.state) ? known : job)
}

/** The id of the job shown, if it has not ended (the live stream polls it while it is down). */
export const followedId = (): string | undefined =>
  following && shown?.id === following.id && unfinished(shown) ? following.id : undefined

/** A change of one of the key's jobs, from the live stream (or a poll). */
export function onLiveJob(job: Job): void {
  const prior = latest.get(job.id)
  // An answer older than what the stream already said (a poll, a create's answer) changes nothing.
  if (prior && stateRank(prior.state) > stateRank(job.state)) return
  const oldest = latest.keys().next().value
  if (latest.size >= 100 && !prior && oldest !== undefined) latest.delete(oldest)
  latest.set(job.id, job)
  if (following?.id !== job.id) return
  showJob(job)
}

export function onLiveProgress(jobId: string, progress: number): void {
  if (following?.id !== jobId) return
  setProgress(progress)
  if (shown?.id === jobId) {
    shown = { ...shown, progress }
    $('#job-status').textContent = statusText(shown)
  }
}

/** Reads the shown job again (the stream missed changes it cannot replay). */
export async function refreshFollowed(): Promise<void> {
  if (!following) return
  try {
    onLiveJob(await api<Job>(`/api/jobs/${following.id}`))
  } catch {
    // Unreachable still: the live stream's polls try again.
  }
}

/** Forgets the shown job (it was deleted): no image or link of it is left on the page. */
export function dropFollowed(jobId: string): void {
  if (following?.id !== jobId) return
  following = undefined
  shown = undefined
  clearInterval(ticker)
  $('#images').replaceChildren()
  setProgress(0)
  const status = $('#job-status')
  status.textContent = 'The job was deleted.'
  status.dataset.state = 'deleted'
  $('#cancel').hidden = true
  $<HTMLButtonElement>('#submit').disabled = false
}

/** Submits the form as a new job and follows it. */
export async function submitJob(event: Event): Promise<void> {
  event.preventDefault()
  const error = $('#form-error')
  const submit = $<HTMLButtonElement>('#submit')
  error.textContent = ''
  if (!fields.prompt.value.trim()) {
    error.textContent = 'Enter a prompt.'
    fields.prompt.focus()
    return
  }
  submit.disabled = true
  try {
    const job = await api<Job>('/api/jobs', { method: 'POST', body: await requestBody(settings()) })
    $('#images').replaceChildren()
    // A seed is used once unless kept: the next generation draws its own.
    if (!fields.seedLock.checked && fields.seed.value !== '') {
      fields.seed.value = ''
      settingsChanged()
    }
    follow(job)
    jobsChanged(job)
    // On a phone the result is below the settings: bring it into view.
    if (matchMedia('(max-width: 820px)').matches) $('.result').scrollIntoView({ block: 'start', behavior: 'smooth' })
  } catch (e) {
    error.textContent = messageOf(e)
    submit.disabled = false
  }
}

/** Cancels the job being followed: the answer shows at once, whether or not the stream is up. */
export async function cancelFollowed(): Promise<void> {
  if (!following) return
  const error = $('#form-error')
  error.textContent = ''
  try {
    const job = await api<Job>(`/api/jobs/${following.id}/cancel`, { method: 'POST' })
    onLiveJob(job)
    jobsChanged(job)
  } catch (e) {
    error.textContent =
      e instanceof ApiError && e.code === 'NETWORK'
        ? 'fluxhost did not answer, so the job may still be running: press Cancel again once it is back.'
        : messageOf(e)
  }
}
