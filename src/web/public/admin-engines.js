// The engines: each model's route (its policy and engines), whether each answers, its health
// in this process (circuit, latency, the last hour's jobs and failures), its price; and latency
// from the records (every process's jobs).

import { when } from './admin-ui.js'
import { $, api, el } from './common.js'

export async function loadEngines(fresh = false) {
  const { models, latency } = await api(`/api/admin/engines${fresh ? '?fresh=true' : ''}`)
  $('#engines tbody').replaceChildren(
    ...models.map((m) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row', text: m.name }),
        el('td', { text: m.policy ?? 'failover' }),
        el('td', { text: m.engines.map(describeEngine).join(' → ') }),
      ),
    ),
  )
  $('#latency tbody').replaceChildren(
    ...latency.map((l) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row', text: l.engine }),
        el('td', { text: String(l.jobs) }),
        el('td', { text: `${(l.p50Ms / 1000).toFixed(2)} s` }),
        el('td', { text: `${(l.p95Ms / 1000).toFixed(2)} s` }),
        el('td', { text: when(l.lastAt) }),
      ),
    ),
  )
}

function describeEngine(e) {
  const parts = [e.reachable ? 'reachable' : `unreachable (${e.detail})`]
  const h = e.health
  if (h) {
    parts.push(h.state === 'closed' ? 'healthy' : `circuit ${h.state}${h.reason ? ` (${h.reason})` : ''}`)
    if (h.p50Ms !== null) parts.push(`p50 ${(h.p50Ms / 1000).toFixed(2)} s, p95 ${(h.p95Ms / 1000).toFixed(2)} s`)
    parts.push(`${h.jobsLastHour} jobs in the last hour, ${Math.round(h.failureRate * 100)} % failed`)
  }
  if (e.priceUsd !== undefined) parts.push(`$${e.priceUsd} per image`)
  return `${e.name}: ${parts.join(', ')}`
}
