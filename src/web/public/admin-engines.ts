// The engines: each model's route (its policy and engines), whether each answers, its health
// in this process (circuit, latency, the last hour's jobs and failures), its price; and latency
// from the records (every process's jobs).

import type { EngineStatus, Engines } from './admin-types.js'
import { when } from './admin-ui.js'
import { $, api, el } from './common.js'

const seconds = (ms: number | null) => `${((ms ?? 0) / 1000).toFixed(2)} s`

export async function loadEngines(fresh = false): Promise<void> {
  const { models, latency } = await api<Engines>(`/api/admin/engines${fresh ? '?fresh=true' : ''}`)
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
        el('td', { text: seconds(l.p50Ms) }),
        el('td', { text: seconds(l.p95Ms) }),
        el('td', { text: when(l.lastAt) }),
      ),
    ),
  )
}

function describeEngine(e: EngineStatus): string {
  const parts = [e.reachable ? 'reachable' : `unreachable (${e.detail})`]
  const h = e.health
  if (h) {
    parts.push(h.state === 'closed' ? 'healthy' : `circuit ${h.state}${h.reason ? ` (${h.reason})` : ''}`)
    if (h.p50Ms !== null) parts.push(`p50 ${seconds(h.p50Ms)}, p95 ${seconds(h.p95Ms)}`)
    parts.push(`${h.jobsLastHour} jobs in the last hour, ${Math.round(h.failureRate * 100)} % failed`)
  }
  if (e.priceUsd !== undefined) parts.push(`$${e.priceUsd} per image`)
  return `${e.name}: ${parts.join(', ')}`
}
