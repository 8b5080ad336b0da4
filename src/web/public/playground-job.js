// The current job: POST /api/jobs, then its changes as the page's live stream brings them
// (live.ts, wired in app.js: onLiveJob, onLiveProgress), its images once it succeeds, and the
// Cancel button while it runs.
import { $, ApiError, api, el, stateRank, usd } from './common.js'
import { fields, requestBody, settings, settingsChanged } from './playground-form.js'
import { fillForm, generateAgain, useAsImagePrompt } from './playground-reuse.js'

let following // { id }
// The latest record the live stream brought of each recent job: its events can come before the
// answer to the create that made it.
const latest = new Map()

// What runs with a job this module made or canceled (the history shows it); set by app.js.
let jobsChanged = () => undefined
export function onJobsChanged(listener) {
  jobsChanged = listener
}

function setProgress(fraction) {
  const percent = Math.round(Math.max(0, Math.min(1, fraction)) * 100)
  const bar = $('#progress')
  bar.style.width = `${percent}%`
  bar.setAttribute('aria-valuenow', String(percent))
  bar.setAttribute('aria-valuetext', `${percent} %`)
}

// The job the status line shows, and its ticker while it is unfinished (elapsed time; for a
// queued job, its place in the queue, read every 2 s).
let shown
let ticker

const seconds = (from, to) => Math.max(0, Math.round((to - Date.parse(from)) / 100) / 10)

function statusText(job) {
  const elapsed = `${Math.floor(seconds(job.createdAt, Date.now()))} s`
  const ahead = job.queuePosition ? `${job.queuePosition} ${job.queuePosition === 1 ? 'job' : 'jobs'} ahead, ` : ''
  switch (job.state) {
    case 'queued':
      return `Queued… ${ahead}${elapsed}`
    case 'running':
      return `Generating… ${Math.round((job.progress ?? 0) * 100)} %, ${elapsed}`
    case 'succeeded': {
      const took = job.finishedAt ? ` in ${seconds(job.createdAt, Date.parse(job.finishedAt))} s` : ''
      const n = job.result.images.length
      return `Done${took}. ${n} image(s), seed ${job.result.seed}, ${usd(job.cost?.usd)} on ${job.engine}.`
    }
    case 'failed':
    case 'canceled':
      return `${job.state === 'failed' ? 'Failed.' : 'Canceled.'} ${job.error?.message ?? ''}`.trim()
    default:
      return job.state
  }
}

/** Where the image will be: a placeholder of the asked size's shape while the job runs. */
function placeholder(job) {
  const r = job.request
  const box = el('div', { class: 'placeholder-image', role: 'img', 'aria-label': 'The image, being made' })
  const [w, h] = r.aspectRatio ? r.aspectRatio.split(':').map(Number) : [r.width, r.height]
  // (A property set through the style object: the pages' CSP refuses style attributes.)
  box.style.setProperty('--ratio', String(w / h))
  return box
}

function tick() {
  if (!shown || !['queued', 'running'].includes(shown.state)) return
  $('#job-status').textContent = statusText(shown)
  if (shown.state !== 'queued' || Math.floor(Date.now() / 1000) % 2 !== 0) return
  api(`/api/jobs/${shown.id}`).then(
    (fresh) => onLiveJob(fresh),
    () => undefined,
  )
}

function showJob(job) {
  const status = $('#job-status')
  const previous = shown
  // A stream's record has no queue position: keep the last one read while it is still queued.
  shown = job.state === 'queued' && previous?.id === job.id ? { queuePosition: previous.queuePosition, ...job } : job
  status.textContent = statusText(shown)
  status.dataset.state = job.state
  clearInterval(ticker)
  if (job.state === 'queued' || job.state === 'running') {
    ticker = setInterval(tick, 1000)
    if (previous?.id !== job.id || !$('#images .placeholder-image')) $('#images').replaceChildren(placeholder(job))
  } else if (job.state !== 'succeeded') $('#images').replaceChildren()
  setProgress(job.progress ?? 0)
  const running = job.state === 'queued' || job.state === 'running'
  // Focus follows the button that can act now (a disabled or hidden one drops it).
  const focused = document.activeElement
  $('#cancel').hidden = !running
  $('#submit').disabled = running
  if (running && (focused === $('#submit') || focused === document.body)) $('#cancel').focus()
  if (!running && (focused === $('#cancel') || focused === document.body)) $('#submit').focus()
  if (job.state === 'succeeded') {
    $('#images').replaceChildren(
      ...job.result.images.map((image, i) =>
        el(
          'figure',
          {},
          el(
            'button',
            {
              type: 'button',
              class: 'zoom',
              'aria-label': `Image ${i + 1} at full size`,
              onclick: () => zoom(image.url, `Image ${i + 1} for: ${job.request.prompt}`),
            },
            el('img', {
              src: image.url,
              alt: `Image ${i + 1} for: ${job.request.prompt}`,
              width: image.width,
              height: image.height,
            }),
          ),
          el(
            'figcaption',
            {},
            `${image.width}×${image.height} `,
            el('a', {
              href: image.url,
              download: `fluxhost-${job.id}-${i + 1}`,
              text: 'Download',
              onclick: (event) => void downloadFresh(event, job.id, i),
            }),
            imageActions(job, i),
          ),
        ),
      ),
    )
  }
}

/** What can be done with a result: its seed, a variation, its settings, or it as the next image prompt. */
function imageActions(job, index) {
  const seed = job.result.seed
  const copySeed = (event) => {
    const button = event.currentTarget
    navigator.clipboard.writeText(String(seed)).then(
      () => (button.textContent = 'Seed copied'),
      () => (button.textContent = `Seed ${seed}`),
    )
  }
  const asPrompt = async () => {
    try {
      const fresh = await api(`/api/jobs/${job.id}`)
      await useAsImagePrompt(fresh.result.images[index].url, `fluxhost-${job.id}-${index + 1}`)
    } catch (e) {
      $('#form-error').textContent = `The image could not be used as the image prompt: ${e.message}`
    }
  }
  const button = (text, label, onclick) => el('button', { type: 'button', text, 'aria-label': label, onclick })
  const n = index + 1
  return el(
    'span',
    { class: 'image-actions' },
    button('Copy seed', `Copy seed ${seed}`, copySeed),
    button('Vary', `Vary image ${n}: the same settings, a new seed`, () => generateAgain(job, { seed: false })),
    button('Reuse settings', `Reuse settings of image ${n}`, () => fillForm(job, { seed: true })),
    button('Use as image prompt', `Use as image prompt: image ${n}`, () => void asPrompt()),
  )
}

/**
 * Downloads image `index` of a job through a URL signed now: the one on the page may have
 * expired since (a download of an expired URL would save the error as the image).
 */
async function downloadFresh(event, jobId, index) {
  event.preventDefault()
  const link = event.currentTarget
  try {
    const job = await api(`/api/jobs/${jobId}`)
    const fresh = el('a', { href: job.result.images[index].url, download: link.getAttribute('download') })
    document.body.append(fresh)
    fresh.click()
    fresh.remove()
  } catch (e) {
    $('#form-error').textContent = `The image could not be downloaded: ${e.message}`
  }
}

/** The image at its full size, over the page (Esc or Close returns). */
function zoom(url, alt) {
  const dialog = el(
    'dialog',
    { class: 'zoomed', 'aria-label': alt },
    el('form', { method: 'dialog' }, el('button', { text: 'Close' })),
    el('img', { src: url, alt }),
  )
  dialog.addEventListener('close', () => dialog.remove())
  // A click on the image (not the Close button) closes it too.
  dialog.addEventListener('click', (event) => event.target.tagName === 'IMG' && dialog.close())
  document.body.append(dialog)
  dialog.showModal()
}

/** Shows `job` as the current one; its later changes come from the live stream. */
export function follow(job) {
  following = { id: job.id }
  const known = latest.get(job.id)
  showJob(known && stateRank(known.state) >= stateRank(job.state) ? known : job)
}

/** The id of the job shown, if it has not ended (the live stream polls it while it is down). */
export const followedId = () =>
  following && shown?.id === following.id && ['queued', 'running'].includes(shown.state) ? following.id : undefined

/** A change of one of the key's jobs, from the live stream (or a poll). */
export function onLiveJob(job) {
  const prior = latest.get(job.id)
  // An answer older than what the stream already said (a poll, a create's answer) changes nothing.
  if (prior && stateRank(prior.state) > stateRank(job.state)) return
  if (latest.size >= 100 && !prior) latest.delete(latest.keys().next().value)
  latest.set(job.id, job)
  if (following?.id !== job.id) return
  showJob(job)
}

export function onLiveProgress(jobId, progress) {
  if (following?.id !== jobId) return
  setProgress(progress)
  if (shown?.id === jobId) {
    shown = { ...shown, progress }
    $('#job-status').textContent = statusText(shown)
  }
}

/** Reads the shown job again (the stream missed changes it cannot replay). */
export async function refreshFollowed() {
  if (!following) return
  try {
    onLiveJob(await api(`/api/jobs/${following.id}`))
  } catch {
    // Unreachable still: the live stream's polls try again.
  }
}

/** Forgets the shown job (it was deleted): no image or link of it is left on the page. */
export function dropFollowed(jobId) {
  if (following?.id !== jobId) return
  following = undefined
  shown = undefined
  clearInterval(ticker)
  $('#images').replaceChildren()
  setProgress(0)
  $('#job-status').textContent = 'The job was deleted.'
  $('#job-status').dataset.state = 'deleted'
  $('#cancel').hidden = true
  $('#submit').disabled = false
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
    error.textContent = e instanceof ApiError ? e.message : String(e)
    $('#submit').disabled = false
  }
}

/** Cancels the job being followed: the answer shows at once, whether or not the stream is up. */
export async function cancelFollowed() {
  if (!following) return
  $('#form-error').textContent = ''
  try {
    const job = await api(`/api/jobs/${following.id}/cancel`, { method: 'POST' })
    onLiveJob(job)
    jobsChanged(job)
  } catch (e) {
    $('#form-error').textContent =
      e instanceof ApiError && e.code === 'NETWORK'
        ? 'fluxhost did not answer, so the job may still be running: press Cancel again once it is back.'
        : e.message
  }
}
