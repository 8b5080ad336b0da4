// The engines: each model's engines in failover order, whether they answer, and their latency.

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
        el('td', {
          text: m.engines
            .map((e) => `${e.name}: ${e.reachable ? 'reachable' : `unreachable (${e.detail})`}`)
            .join(' → '),
        }),
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
