// The queue: what waits and what runs (every key's jobs, each with a Cancel button), and the
// latest failures with their errors. Each job's id opens its view (admin-job.tsx).
import { signal } from '@preact/signals'
import { render } from 'preact'
import { type Column, JobLink, Notice, Rows } from './admin-rows.js'
import type { AdminJob, Queue } from './admin-types.js'
import { ago, when } from './admin-ui.js'
import { $, api, messageOf } from './common.js'

/** The queue as last read (null: not yet). */
const queue = signal<Queue | null>(null)
/** What the last action here came to: a job canceled, or why not. */
const queueNotice = signal<{ text: string; error: boolean } | null>(null)
/** The jobs being canceled now (their buttons wait). */
const canceling = signal<ReadonlySet<string>>(new Set())

/** Each read of the queue is numbered: only the newest one's answer is shown. */
let reads = 0

export async function loadQueue(): Promise<void> {
  const read = ++reads
  const answer = await api<Queue>('/api/admin/queue')
  // A poll that left before a Cancel and came back after the Cancel's own read would bring the
  // canceled job back: an answer older than the latest read is dropped.
  if (read === reads) queue.value = answer
}

/** A job's key, by its name (or its id, for a key the API does not list). */
export const keyOf = (job: AdminJob): string => job.key.name ?? job.key.id

type Said = { text: string; error: boolean }

/**
 * Cancels any key's queued or running job (after asking): says the API's answer (its message:
 * for a running job on a provider that cannot stop a task, that it may still finish and bill
 * there) or its reason, and reads the queue again. Resolves to what it said (null: not asked).
 */
export async function cancelJob(job: AdminJob): Promise<Said | null> {
  const question =
    `Cancel job ${job.id} of the key "${keyOf(job)}"? ` +
    (job.state === 'running'
      ? 'Its engine is told to stop and the key is not charged; a provider that cannot cancel a task ' +
        'may still finish it, and bill for it.'
      : 'It will not run; it is not charged.')
  if (!confirm(question)) return null
  canceling.value = new Set([...canceling.value, job.id])
  let said: Said
  try {
    const answer = await api<AdminJob>(`/api/admin/jobs/${encodeURIComponent(job.id)}/cancel`, { method: 'POST' })
    said = { text: `Job ${job.id} of "${keyOf(job)}": ${answer.error?.message ?? 'canceled.'}`, error: false }
  } catch (error) {
    said = { text: `Job ${job.id} was not canceled: ${messageOf(error)}`, error: true }
  } finally {
    canceling.value = new Set([...canceling.value].filter((id) => id !== job.id))
  }
  queueNotice.value = said
  try {
    await loadQueue()
  } catch (error) {
    queueNotice.value = { text: messageOf(error), error: true }
  }
  return said
}

/**
 * The Cancel button of a queued or running job. A canceled job leaves the list, and its button
 * with it: focus goes to the notice, which says what came of it, instead of to the page's start.
 */
export function CancelButton({ job }: { job: AdminJob }) {
  const cancel = async () => {
    if (await cancelJob(job)) document.getElementById('queue-notice')?.focus()
  }
  return (
    <button
      type="button"
      aria-label={`Cancel job ${job.id}`}
      disabled={canceling.value.has(job.id)}
      onClick={() => void cancel()}
    >
      Cancel
    </button>
  )
}

const percent = (job: AdminJob) => (job.state === 'queued' ? 'waiting' : `${Math.round(job.progress * 100)}%`)

const ACTIVE: Column<AdminJob>[] = [
  { label: 'Job', cell: (job) => <JobLink id={job.id} /> },
  { label: 'Key', cell: keyOf },
  { label: 'Model', cell: (job) => job.model },
  { label: 'State', cell: (job) => job.state },
  { label: 'Progress', cell: percent },
  { label: 'Age', cell: (job) => <time dateTime={job.createdAt}>{ago(job.createdAt)}</time> },
  { label: 'Engine', cell: (job) => job.engine ?? '—' },
  { label: 'Actions', cell: (job) => <CancelButton job={job} /> },
]

const FAILURES: Column<AdminJob>[] = [
  { label: 'Job', cell: (job) => <JobLink id={job.id} /> },
  { label: 'Key', cell: keyOf },
  { label: 'Model', cell: (job) => job.model },
  { label: 'Error', cell: (job) => `${job.error?.code}: ${job.error?.message}`, className: 'error-text' },
  { label: 'Engine', cell: (job) => job.engine ?? '—' },
  { label: 'Finished', cell: (job) => when(job.finishedAt) },
]

const jobData = (job: AdminJob) => ({ 'data-job': job.id, 'data-state': job.state })

function QueuePanel() {
  const q = queue.value
  if (!q) return <p class="hint">Reading the queue…</p>
  const c = q.counts
  // Running first (they hold the workers), then the waiting ones in the order they will run.
  const active = [...q.running, ...q.queued]
  const shown = q.queued.length < q.depth ? ` (the next ${q.queued.length} shown)` : ''
  return (
    <>
      <p id="queue-summary">
        {`${q.depth} waiting · ${c.running} running · ${c.succeeded} succeeded · ` +
          `${c.failed} failed · ${c.canceled} canceled`}
      </p>
      <Notice id="queue-notice" notice={queueNotice.value} />
      <h3 id="active-title">Waiting and running{shown}</h3>
      <Rows
        id="active-jobs"
        label="Waiting and running jobs"
        rows={active}
        columns={ACTIVE}
        rowKey={(job) => job.id}
        rowData={jobData}
        empty="No job is waiting or running."
      />
      <h3 id="failures-title">Recent failures</h3>
      <Rows
        id="failures"
        label="Recent failures"
        rows={q.recentFailures}
        columns={FAILURES}
        rowKey={(job) => job.id}
        rowData={jobData}
        empty="No job has failed lately."
      />
    </>
  )
}

/** Draws the queue panel into its section; it follows the queue as loadQueue() reads it. */
export function mountQueue(): void {
  render(<QueuePanel />, $('#queue-panel'))
}
