// One job's view, over the page (a modal <dialog>): its record as GET /api/admin/jobs/:id gives
// it (any key's job), with its settings, timings, error and images, and Cancel while it is
// unfinished. It opens at /admin#job=<id>: from a job's link in the lists, or a link shared.
import { signal } from '@preact/signals'
import { type ComponentChildren, render } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import { cancelJob, keyOf } from './admin-queue.js'
import { Notice } from './admin-rows.js'
import type { AdminJob } from './admin-types.js'
import { gated, when } from './admin-ui.js'
import { $, api, messageOf } from './common.js'

/** The job the view shows: its id, and its record once read (or why it could not be). */
const shown = signal<{ id: string; job: AdminJob | null; error: string | null } | null>(null)
/** What a Cancel in the view came to (cleared when another job is shown). */
const viewNotice = signal<{ text: string; error: boolean } | null>(null)

/** The job id the address names (`#job=<id>`), or null. */
function idInAddress(): string | null {
  const match = /^#job=(.+)$/.exec(location.hash)
  if (!match?.[1]) return null
  try {
    return decodeURIComponent(match[1])
  } catch {
    return null
  }
}

/** Reads job `id` into the view (which shows it as soon as the page is unlocked). */
async function show(id: string): Promise<void> {
  if (shown.value?.id !== id) {
    shown.value = { id, job: null, error: null }
    viewNotice.value = null
  }
  try {
    const job = await api<AdminJob>(`/api/admin/jobs/${encodeURIComponent(id)}`)
    if (shown.value?.id === id) shown.value = { id, job, error: null }
  } catch (error) {
    if (shown.value?.id === id) shown.value = { id, job: null, error: messageOf(error) }
  }
}

/** Opens the job the address names, if it names one: at the page's start (a shared link) and on each change. */
export function openFromAddress(): void {
  const id = idInAddress()
  if (id) void show(id)
}

/** How long from `from` to `to`, in seconds, or null when either is missing. */
function took(from: string | null, to: string | null): string | null {
  if (!from || !to) return null
  return `${((new Date(to).getTime() - new Date(from).getTime()) / 1000).toFixed(1)} s`
}

/** The record's facts, as terms; a fact the job does not have is left out. */
function facts(job: AdminJob): [string, ComponentChildren][] {
  const r = job.request
  const rows: [string, ComponentChildren | null | undefined][] = [
    ['State', job.queuePosition === undefined ? job.state : `${job.state} (${job.queuePosition} ahead of it)`],
    ['Progress', job.state === 'running' ? `${Math.round(job.progress * 100)}%` : null],
    ['Key', `${job.key.name ?? '(not listed)'} · ${job.key.id}`],
    ['Model', job.model],
    ['Made through', job.dialect],
    ['Prompt', r.prompt || '(none)'],
    ['Prompt used', job.result && job.result.prompt !== r.prompt ? job.result.prompt : null],
    ['Size', `${r.width} × ${r.height}${r.aspectRatio ? ` (${r.aspectRatio})` : ''}`],
    ['Seed', String(job.result?.seed ?? r.seed)],
    ['Images', String(r.numImages)],
    ['Format', `${r.outputFormat}, quality ${r.outputQuality}`],
    ['Steps', r.steps === undefined ? null : String(r.steps)],
    ['Guidance', r.guidance === undefined ? null : String(r.guidance)],
    ['Safety tolerance', String(r.safetyTolerance)],
    ['Prompt upsampling', r.promptUpsampling ? 'yes' : null],
    ['Raw', r.raw ? 'yes' : null],
    ['Image prompt', r.imagePrompt ? `strength ${r.imagePrompt.strength}` : null],
    ['Webhook', r.webhookUrl],
    ['Engine', job.engine],
    ['Attempts', String(job.attempts)],
    ['Cost', `$${job.cost.usd}${job.cost.charged ? ', charged' : ', not charged'}`],
    ['Created', when(job.createdAt)],
    ['Started', job.startedAt ? when(job.startedAt) : null],
    ['Finished', job.finishedAt ? when(job.finishedAt) : null],
    ['Ran for', took(job.startedAt, job.finishedAt)],
    ['Images removed', job.prunedAt ? when(job.prunedAt) : null],
  ]
  return rows.filter((row): row is [string, ComponentChildren] => row[1] !== null && row[1] !== undefined)
}

function JobRecord({ job }: { job: AdminJob }) {
  const images = job.result?.images ?? []
  return (
    <>
      {job.error ? (
        <p class="error job-error" data-code={job.error.code}>
          <strong>{job.error.code}</strong>: {job.error.message}
        </p>
      ) : null}
      <dl class="job-facts">
        {facts(job).map(([term, value]) => (
          <div key={term} class="card-field">
            <dt>{term}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {images.length > 0 ? (
        <ul class="job-images" aria-label="Images">
          {images.map((image, i) => (
            <li key={image.url}>
              <a href={image.url} target="_blank" rel="noopener">
                <img
                  src={image.thumbnailUrl}
                  alt=""
                  width={Math.round((image.width / Math.max(image.width, image.height)) * 160)}
                  height={Math.round((image.height / Math.max(image.width, image.height)) * 160)}
                />
                <span>{`Image ${i + 1}: ${image.width} × ${image.height}, ${image.contentType}`}</span>
              </a>
            </li>
          ))}
        </ul>
      ) : null}
    </>
  )
}

/** The view of the job the address names: a modal dialog, closed by its button or Escape. */
function JobView() {
  const dialog = useRef<HTMLDialogElement>(null)
  const current = shown.value
  const open = current !== null && !gated.value
  useEffect(() => {
    const node = dialog.current
    if (!node) return
    if (open && !node.open) node.showModal()
    if (!open && node.open) node.close()
  }, [open])
  const closed = () => {
    shown.value = null
    viewNotice.value = null
    // The address stops naming the job (without a step in the history), so its link opens it again.
    if (idInAddress()) history.replaceState(null, '', `${location.pathname}${location.search}`)
  }
  const job = current?.job ?? null
  const unfinished = job !== null && (job.state === 'queued' || job.state === 'running')
  const cancel = async (target: AdminJob) => {
    const said = await cancelJob(target)
    if (!said) return
    viewNotice.value = said
    await show(target.id)
  }
  return (
    <dialog ref={dialog} id="job-view" aria-labelledby="job-view-title" onClose={closed}>
      <h2 id="job-view-title">
        Job <code>{current?.id ?? ''}</code>
      </h2>
      {current?.error ? (
        <p class="error" role="alert">
          {current.error}
        </p>
      ) : null}
      {current && !current.job && !current.error ? <p class="hint">Reading the job…</p> : null}
      {job ? <JobRecord job={job} /> : null}
      <Notice id="job-view-notice" notice={viewNotice.value} />
      <div class="dialog-actions">
        {unfinished ? (
          <button type="button" aria-label={`Cancel job ${job.id} (${keyOf(job)})`} onClick={() => void cancel(job)}>
            Cancel job
          </button>
        ) : null}
        <button type="button" class="primary" onClick={() => dialog.current?.close()}>
          Close
        </button>
      </div>
    </dialog>
  )
}

/** Draws the job view, opens it for the job the address names, and follows the address. */
export function mountJobView(): void {
  render(<JobView />, $('#job-view-root'))
  window.addEventListener('hashchange', openFromAddress)
}
