// The queue (what runs, recent failures) and the webhook deliveries, with Redeliver.

import { showNotice, when } from './admin-ui.js'
import { $, api, el } from './common.js'

export async function loadQueue() {
  const queue = await api('/api/admin/queue')
  const c = queue.counts
  $('#queue-summary').textContent =
    `${queue.depth} waiting · ${c.running} running · ${c.succeeded} succeeded · ` +
    `${c.failed} failed · ${c.canceled} canceled`
  $('#running tbody').replaceChildren(
    ...queue.running.map((job) =>
      el(
        'tr',
        {},
        el('td', {}, el('code', { text: job.id })),
        el('td', { text: job.model }),
        el('td', { text: `${Math.round(job.progress * 100)}%` }),
        el('td', { text: job.engine ?? '—' }),
        el('td', { text: when(job.startedAt) }),
      ),
    ),
  )
  $('#failures tbody').replaceChildren(
    ...queue.recentFailures.map((job) =>
      el(
        'tr',
        { 'data-job': job.id },
        el('td', {}, el('code', { text: job.id })),
        el('td', { text: job.model }),
        el('td', { class: 'error-text', text: `${job.error?.code}: ${job.error?.message}` }),
        el('td', { text: job.engine ?? '—' }),
        el('td', { text: when(job.finishedAt) }),
      ),
    ),
  )
}

export async function loadDeliveries() {
  const state = $('#delivery-state').value
  const { data } = await api(`/api/admin/deliveries?limit=50${state ? `&state=${state}` : ''}`)
  $('#deliveries tbody').replaceChildren(
    ...data.map((d) => {
      const last = d.attempts.at(-1)
      const finished = ['delivered', 'failed', 'stopped'].includes(d.state)
      return el(
        'tr',
        { 'data-delivery': d.id, 'data-state': d.state },
        el('td', {}, el('code', { text: d.id })),
        el('td', {}, el('code', { text: d.jobId })),
        el('td', { text: d.url }),
        el('td', { text: d.state }),
        el('td', { text: String(d.attempts.length) }),
        el('td', { text: last ? `${last.status ?? last.error ?? '—'} ${when(last.at)}` : '—' }),
        el(
          'td',
          {},
          finished
            ? el('button', {
                type: 'button',
                text: 'Redeliver',
                'aria-label': `Redeliver ${d.id}`,
                onclick: () => redeliver(d.id),
              })
            : null,
        ),
      )
    }),
  )
}

async function redeliver(id) {
  try {
    await api(`/api/admin/deliveries/${encodeURIComponent(id)}/redeliver`, { method: 'POST' })
    await loadDeliveries()
  } catch (error) {
    showNotice(error.message)
  }
}
