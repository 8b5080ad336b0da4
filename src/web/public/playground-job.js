// The current job: POST /api/jobs, then its progress over /api/jobs/:id/events until it ends,
// its images once it succeeds, and the Cancel button while it runs.
import { $, ApiError, api, el, events, usd } from './common.js'
import { fields, requestBody, settings } from './playground-form.js'

let following // { id, abort }

// What runs when a job is created or stops being followed (the history reloads); set by app.js.
let jobsChanged = () => undefined
export function onJobsChanged(listener) {
  jobsChanged = listener
}

function setProgress(fraction) {
  const percent = Math.round(Math.max(0, Math.min(1, fraction)) * 100)
  const bar = $('#progress')
  bar.style.width = `${percent}%`
  bar.setAttribute('aria-valuenow', String(percent))
}

function showJob(job) {
  const status = $('#job-status')
  const labels = {
    queued: 'Queued…',
    running: 'Generating…',
    succeeded: 'Done.',
    failed: 'Failed.',
    canceled: 'Canceled.',
  }
  let text = labels[job.state] ?? job.state
  if (job.state === 'failed' || job.state === 'canceled') text += ` ${job.error?.message ?? ''}`
  if (job.state === 'succeeded')
    text += ` ${job.result.images.length} image(s), seed ${job.result.seed}, ${usd(job.cost?.usd)} on ${job.engine}.`
  status.textContent = text.trim()
  status.dataset.state = job.state
  setProgress(job.progress ?? 0)
  const running = job.state === 'queued' || job.state === 'running'
  $('#cancel').hidden = !running
  $('#submit').disabled = running
  if (job.state === 'succeeded') {
    $('#images').replaceChildren(
      ...job.result.images.map((image, i) =>
        el(
          'figure',
          {},
          el('img', {
            src: image.url,
            alt: `Image ${i + 1} for: ${job.request.prompt}`,
            width: image.width,
            height: image.height,
          }),
          el(
            'figcaption',
            {},
            `${image.width}×${image.height} `,
            el('a', { href: image.url, download: `fluxhost-${job.id}-${i + 1}`, text: 'Download' }),
          ),
        ),
      ),
    )
  }
}

export async function follow(job) {
  following?.abort.abort()
  const abort = new AbortController()
  following = { id: job.id, abort }
  showJob(job)
  try {
    await events(
      `/api/jobs/${job.id}/events`,
      (name, data) => {
        if (name === 'state') showJob(data)
        else if (name === 'progress') setProgress(data.progress)
      },
      abort.signal,
    )
  } catch (error) {
    if (!abort.signal.aborted) $('#form-error').textContent = error.message
  }
  if (following?.id === job.id) following = undefined
  jobsChanged()
}

/** Submits the form as a new job and follows it. */
export async function submitJob(event) {
  event.preventDefault()
  const error = $('#form-error')
  error.textContent = ''
  if (!fields.prompt.value.trim()) {
    error.textContent = 'Enter a prompt.'
    fields.prompt.focus()
    return
  }
  $('#submit').disabled = true
  try {
    const job = await api('/api/jobs', { method: 'POST', body: await requestBody(settings()) })
    $('#images').replaceChildren()
    void follow(job)
    jobsChanged()
  } catch (e) {
    error.textContent = e instanceof ApiError ? e.message : String(e)
    $('#submit').disabled = false
  }
}

/** Cancels the job being followed. */
export async function cancelFollowed() {
  if (!following) return
  try {
    showJob(await api(`/api/jobs/${following.id}/cancel`, { method: 'POST' }))
  } catch (e) {
    $('#form-error').textContent = e.message
  }
}
