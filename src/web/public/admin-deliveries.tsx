// The webhook deliveries of every key: their state, attempts and when the next one is due, with
// Redeliver for a finished one. Each job's id opens its view (admin-job.tsx).
import { signal } from '@preact/signals'
import { render } from 'preact'
import { type Column, JobLink, Notice, Rows } from './admin-rows.js'
import type { Delivery, DeliveryState, List } from './admin-types.js'
import { when } from './admin-ui.js'
import { $, api, messageOf } from './common.js'

const STATES: DeliveryState[] = ['pending', 'delivering', 'delivered', 'failed', 'stopped']
/** The deliveries as last read (null: not yet), and which state the list shows ('': all). */
const deliveries = signal<Delivery[] | null>(null)
const shownState = signal<DeliveryState | ''>('')
/** What the last Redeliver came to. */
const notice = signal<{ text: string; error: boolean } | null>(null)
const redelivering = signal<ReadonlySet<string>>(new Set())

/** Each read of the list is numbered: only the newest one's answer is shown. */
let reads = 0

export async function loadDeliveries(): Promise<void> {
  const read = ++reads
  const state = shownState.value
  const { data } = await api<List<Delivery>>(`/api/admin/deliveries?limit=50${state ? `&state=${state}` : ''}`)
  // An older answer is not shown: one for a state no longer chosen, or a poll's that left before
  // a Redeliver and came back after the Redeliver's own read (it would show the delivery as it was).
  if (read === reads) deliveries.value = data
}

const finished = (d: Delivery) => d.state === 'delivered' || d.state === 'failed' || d.state === 'stopped'

/**
 * Sends a finished delivery again: says it is queued (or why not) and reads the list again. A
 * queued one loses its button: focus goes to the notice, which says what came of it.
 */
async function redeliver(d: Delivery): Promise<void> {
  redelivering.value = new Set([...redelivering.value, d.id])
  try {
    await api(`/api/admin/deliveries/${encodeURIComponent(d.id)}/redeliver`, { method: 'POST' })
    notice.value = { text: `Redelivery of ${d.id} (job ${d.jobId}) queued.`, error: false }
  } catch (error) {
    notice.value = { text: `Delivery ${d.id} was not sent again: ${messageOf(error)}`, error: true }
  } finally {
    redelivering.value = new Set([...redelivering.value].filter((id) => id !== d.id))
  }
  try {
    await loadDeliveries()
  } catch (error) {
    notice.value = { text: messageOf(error), error: true }
  }
  document.getElementById('delivery-notice')?.focus()
}

/** The last attempt's answer (its HTTP status, or what went wrong) and when. */
function lastAnswer(d: Delivery): string {
  const last = d.attempts.at(-1)
  return last ? `${last.status ?? last.error ?? '—'} ${when(last.at)}` : '—'
}

/** When the next attempt is due: only a delivery that will be tried again has one. */
const nextAttempt = (d: Delivery) =>
  (d.state === 'pending' || d.state === 'failed') && d.nextAttemptAt ? when(d.nextAttemptAt) : '—'

const COLUMNS: Column<Delivery>[] = [
  { label: 'Delivery', cell: (d) => <code>{d.id}</code> },
  { label: 'Job', cell: (d) => <JobLink id={d.jobId} /> },
  { label: 'URL', cell: (d) => d.url, className: 'url-cell' },
  { label: 'State', cell: (d) => d.state },
  { label: 'Attempts', cell: (d) => String(d.attempts.length) },
  { label: 'Last answer', cell: lastAnswer },
  { label: 'Next attempt', cell: nextAttempt },
  {
    label: 'Actions',
    cell: (d) =>
      finished(d) ? (
        <button
          type="button"
          aria-label={`Redeliver ${d.id}`}
          disabled={redelivering.value.has(d.id)}
          onClick={() => void redeliver(d)}
        >
          Redeliver
        </button>
      ) : null,
  },
]

function DeliveriesPanel() {
  const choose = (value: string) => {
    shownState.value = STATES.find((state) => state === value) ?? ''
    void loadDeliveries().catch((error: unknown) => {
      notice.value = { text: messageOf(error), error: true }
    })
  }
  const data = deliveries.value
  return (
    <>
      <label for="delivery-state">Show</label>
      <select id="delivery-state" value={shownState.value} onChange={(event) => choose(event.currentTarget.value)}>
        <option value="">all</option>
        {STATES.map((state) => (
          <option key={state} value={state}>
            {state}
          </option>
        ))}
      </select>
      <Notice id="delivery-notice" notice={notice.value} />
      {data === null ? (
        <p class="hint">Reading the deliveries…</p>
      ) : (
        <Rows
          id="deliveries"
          label="Webhook deliveries"
          rows={data}
          columns={COLUMNS}
          rowKey={(d) => d.id}
          rowData={(d) => ({ 'data-delivery': d.id, 'data-state': d.state })}
          empty={shownState.value ? `No ${shownState.value} delivery.` : 'No webhook delivery yet.'}
        />
      )}
    </>
  )
}

/** Draws the deliveries panel into its section; it follows the list as loadDeliveries() reads it. */
export function mountDeliveries(): void {
  render(<DeliveriesPanel />, $('#deliveries-panel'))
}
