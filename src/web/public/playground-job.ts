// The current job: POST /api/jobs, then its changes as the page's live stream brings them
// (live.ts, wired in app.ts: onLiveJob, onLiveProgress), its images once it succeeds, and the
// Cancel button while it runs. The job shown is a signal: what the result panel draws of it is
// playground-result.tsx.
import { batch, signal } from '@preact/signals'
import { $, ApiError, api, messageOf, stateRank } from './common.js'
import { fields, requestBody, settings, settingsChanged } from './playground-form.js'
import type { Job } from './playground-types.js'

export type { Job } from './playground-types.js'

/** The job the result panel shows (its latest known record); undefined before the first. */
export const shown = signal<Job | undefined>(undefined)
/** The job shown was deleted: the panel says so, and shows nothing of it. */
export const deleted = signal(false)
/** The clock the status line counts from: it ticks each second while the job shown is unfinished. */
export const now = signal(Date.now())

let following: { id: string } | undefined
// The latest record the live stream brought of each recent job: its events can come before the
// answer to the create that made it.
const latest = new Map<string, Job>()

// What runs with a job this module made or canceled (the history shows it); set by app.ts.
let jobsChanged: (job: Job) => void = () => undefined
export function onJobsChanged(listener: (job: Job) => void): void {
  jobsChanged = listener
}

// The ticker while the job shown is unfinished (elapsed time; for a queued job, its place in
// the queue, read every 2 s).
let ticker: ReturnType<typeof setInterval> | undefined

export const unfinished = (job: Job): boolean => job.state === 'queued' || job.state === 'running'

function tick() {
  const job = shown.value
  if (!job || !unfinished(job)) return
  now.value = Date.now()
  if (job.state !== 'queued' || Math.floor(Date.now() / 1000) % 2 !== 0) return
  api<Job>(`/api/jobs/${job.id}`).then(
    (fresh) => onLiveJob(fresh),
    () => undefined,
  )
}

function showJob(job: Job) {
  const previous = shown.value
  // A stream's record has no queue position: keep the last one read while it is still queued. The
  // record's progress is saved now and then: a finer one heard live meanwhile is not undone.
  const same = previous?.id === job.id
  const progress = same && job.state === 'running' && previous.state === 'running' ? previous.progress : 0
  batch(() => {
    shown.value =
      job.state === 'queued' && same
        ? { queuePosition: previous.queuePosition, ...job }
        : { ...job, progress: Math.max(job.progress, progress) }
    deleted.value = false
    now.value = Date.now()
  })
  clearInterval(ticker)
  const running = unfinished(job)
  if (running) ticker = setInterval(tick, 1000)
  // Focus follows the button that can act now (a disabled or hidden one drops it), when the job
  // starts or ends: not at every record of it (a favourite marked elsewhere, say).
  const submit = $<HTMLButtonElement>('#submit')
  const cancel = $<HTMLButtonElement>('#cancel')
  const focused = document.activeElement
  const turned = !previous || previous.id !== job.id || unfinished(previous) !== running
  cancel.hidden = !running
  submit.disabled = running
  if (!turned) return
  if (running && (focused === submit || focused === document.body)) cancel.focus()
  if (!running && (focused === cancel || focused === document.body)) submit.focus()
}

/** Forgets the job shown (another key was entered: that job is not this key's). */
export function resetFollowed(): void {
  following = undefined
  latest.clear()
  batch(() => {
    shown.value = undefined
    deleted.value = false
  })
  clearInterval(ticker)
  $('#cancel').hidden = true
  $<HTMLButtonElement>('#submit').disabled = false
}

/** Shows `job` as the current one; its later changes come from the live stream. */
export function follow(job: Job): void {
  following = { id: job.id }
  const known = latest.get(job.id)
  showJob(known && stateRank(known.state) >= stateRank(job.state) ? known : job)
}

/** The id of the job shown, if it has not ended (the live stream polls it while it is down). */
export const followedId = (): string | undefined => {
  const job = shown.value
  return following && job?.id === following.id && unfinished(job) ? following.id : undefined
}

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
  const job = shown.value
  // Progress only grows, and only a running job has it (a late event after its end says nothing).
  if (job?.id !== jobId || job.state !== 'running' || progress <= job.progress) return
  batch(() => {
    shown.value = { ...job, progress }
    now.value = Date.now()
  })
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
  batch(() => {
    shown.value = undefined
    deleted.value = true
  })
  clearInterval(ticker)
  $('#cancel').hidden = true
  $<HTMLButtonElement>('#submit').disabled = false
}

/** Submits the form as a new job and follows it. */
export async function submitJob(event: Event): Promise<void> {
  event.preventDefault()
  const error = $('#form-error')
  const submit = $<HTMLButtonElement>('#submit')
  // Ctrl/Cmd+Enter submits even while Generate is disabled: a job running (or being made) is not
  // abandoned for another.
  if (submit.disabled) {
    if (followedId()) error.textContent = 'A job is running: wait for it to end, or cancel it, before starting another.'
    return
  }
  error.textContent = ''
  if (!fields.prompt.value.trim()) {
    error.textContent = 'Enter a prompt.'
    fields.prompt.focus()
    return
  }
  submit.disabled = true
  try {
    const job = await api<Job>('/api/jobs', { method: 'POST', body: await requestBody(settings()) })
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
    // Generate was disabled while the create was sent, which dropped the focus: it comes back.
    if (document.activeElement === document.body) submit.focus()
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
