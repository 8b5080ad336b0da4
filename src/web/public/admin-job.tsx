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

/** Each read of a job is numbered: only the newest one's answer is shown. */
let reads = 0

/** Reads job `id` into the view (which shows it while the page is unlocked). */
async function show(id: string): Promise<void> {
  const read = ++reads
  if (shown.value?.id !== id) {
    shown.value = { id, job: null, error: null }
    viewNotice.value = null
  }
  // A poll's read that left before a Cancel and came back after the Cancel's own read would
  // show the job running again: an answer older than the latest read, or for another job, is dropped.
  const current = () => read === reads && shown.value?.id === id
  try {
    const job = await api<AdminJob>(`/api/admin/jobs/${encodeURIComponent(id)}`)
    if (current()) shown.value = { id, job, error: null }
  } catch (error) {
    // The record read before stays, under the reason this read failed.
    if (current()) shown.value = { id, job: shown.value?.job ?? null, error: messageOf(error) }
  }
}

/**
 * Opens the job the address names, if it names one: once an admin key is in (a shared link; the
 * page calls it then) and on each change of the address. While the page is locked (no key, or a
 * user key) it reads nothing: the key could not, and the job opens once an admin key is entered.
 */
export function openFromAddress(): void {
  if (gated.value) return
  const id = idInAddress()
  if (id) void show(id)
}

const unfinished = (job: AdminJob | null): job is AdminJob =>
  job !== null && (job.state === 'queued' || job.state === 'running')

/** Reads the shown job again while it is unfinished (each poll of the page), so the view keeps up. */
export async function refreshJobView(): Promise<void> {
  const current = shown.value
  if (current && !gated.value && unfinished(current.job)) await show(current.id)
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
  const closeButton = useRef<HTMLButtonElement>(null)
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
    // Closed by the person (its button, Escape): the address stops naming the job (without a step
    // in the history), so its link opens it again. Closed because the page locked: the address
    // keeps it, and the job opens again once an admin key is entered (a shared link survives).
    if (!gated.value && idInAddress()) history.replaceState(null, '', `${location.pathname}${location.search}`)
  }
  const job = current?.job ?? null
  const cancel = async (target: AdminJob) => {
    const said = await cancelJob(target)
    // The view may have been closed (Escape) or moved to another job while the Cancel was sent:
    // it is then left as it is, and the queue's notice says what came of the Cancel.
    if (!said || shown.value?.id !== target.id) return
    viewNotice.value = said
    // The Cancel button goes once the job is read as canceled: focus goes to Close, not the page's start.
    closeButton.current?.focus()
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
        {unfinished(job) ? (
          <button type="button" aria-label={`Cancel job ${job.id} (${keyOf(job)})`} onClick={() => void cancel(job)}>
            Cancel job
          </button>
        ) : null}
        <button ref={closeButton} type="button" class="primary" onClick={() => dialog.current?.close()}>
          Close
        </button>
      </div>
    </dialog>
  )
}

/** Draws the job view and follows the address (the page opens the job it names once an admin key is in). */
export function mountJobView(): void {
  render(<JobView />, $('#job-view-root'))
  window.addEventListener('hashchange', openFromAddress)
}
