// The admin pages: keys (create, revoke, rotate the webhook secret, spend), the queue,
// webhook deliveries and engines. Everything through /api/admin, with an admin-scoped key.
import { $, api, el, keyForm } from './common.js'

const SECTIONS = ['#keys-section', '#queue-section', '#deliveries-section', '#engines-section']
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—')
const money = (usd) => `$${usd}`

function gate(message) {
  const box = $('#admin-gate')
  box.hidden = !message
  box.textContent = message ?? ''
  for (const id of SECTIONS) $(id).hidden = Boolean(message)
}

function report(error) {
  gate(null)
  $('#new-key').hidden = false
  $('#new-key').textContent = error.message
}

// ---- keys ----

async function loadKeys() {
  const { data } = await api('/api/admin/keys')
  $('#keys tbody').replaceChildren(
    ...data.map((key) => {
      const active = !key.revokedAt
      return el(
        'tr',
        { 'data-key': key.id, 'data-name': key.name },
        el('th', { scope: 'row', text: key.name }),
        el('td', { text: key.scope }),
        el('td', {}, el('code', { text: `${key.prefix}…` })),
        el('td', { text: when(key.lastUsedAt) }),
        el('td', { text: `${money(key.usage.last30Days.usd)} · ${key.usage.last30Days.images} img` }),
        el('td', { text: `${money(key.usage.total.usd)} · ${key.usage.total.jobs} jobs` }),
        el('td', { text: active ? 'active' : `revoked ${when(key.revokedAt)}` }),
        el(
          'td',
          {},
          el(
            'div',
            { class: 'actions-cell' },
            active && key.source === 'db'
              ? el('button', {
                  type: 'button',
                  text: 'Revoke',
                  'aria-label': `Revoke ${key.name}`,
                  onclick: () => revoke(key),
                })
              : null,
            active
              ? el('button', {
                  type: 'button',
                  text: 'Rotate webhook secret',
                  'aria-label': `Rotate the webhook secret of ${key.name}`,
                  onclick: () => rotate(key),
                })
              : null,
            key.source === 'env' ? el('span', { class: 'hint', text: 'from FLUXHOST_API_KEYS' }) : null,
          ),
        ),
      )
    }),
  )
  const chosen = $('#spend-key').value
  $('#spend-key').replaceChildren(
    el('option', { value: '', text: 'every key' }),
    ...data.map((key) => el('option', { value: key.id, text: key.name })),
  )
  $('#spend-key').value = data.some((key) => key.id === chosen) ? chosen : ''
}

async function revoke(key) {
  if (!confirm(`Revoke the key "${key.name}"? Clients using it stop working at once.`)) return
  try {
    await api(`/api/admin/keys/${encodeURIComponent(key.id)}/revoke`, { method: 'POST' })
    showNotice(`Revoked "${key.name}".`)
    await loadKeys()
  } catch (error) {
    showNotice(error.message)
  }
}

async function rotate(key) {
  if (!confirm(`Rotate the webhook secret of "${key.name}"? Receivers must switch to the new one.`)) return
  try {
    const { secret } = await api(`/api/admin/keys/${encodeURIComponent(key.id)}/webhook-secret`, { method: 'POST' })
    showNotice(`New webhook secret for "${key.name}" (receivers verify signatures with it):`, secret)
  } catch (error) {
    showNotice(error.message)
  }
}

function showNotice(text, secret) {
  const box = $('#new-key')
  box.hidden = false
  box.replaceChildren(el('p', { text }), secret ? el('p', {}, el('code', { text: secret, id: 'shown-secret' })) : null)
}

$('#create-key').addEventListener('submit', async (event) => {
  event.preventDefault()
  const name = $('#new-key-name').value.trim()
  if (!name) return showNotice('Give the key a name.')
  try {
    const { key } = await api('/api/admin/keys', { method: 'POST', body: { name, scope: $('#new-key-scope').value } })
    showNotice(`Key "${name}" created. Copy it now: it is shown only this once.`, key)
    $('#new-key-name').value = ''
    await loadKeys()
  } catch (error) {
    showNotice(error.message)
  }
})

// ---- spend chart: inline SVG, no library ----

async function loadSpend() {
  const keyId = $('#spend-key').value
  const { daily } = await api(`/api/admin/usage?days=30${keyId ? `&keyId=${encodeURIComponent(keyId)}` : ''}`)
  const values = daily.map((d) => Number(d.usd))
  const max = Math.max(...values, 0.01)
  const width = 600
  const height = 180
  const bar = width / daily.length
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  svg.setAttribute('role', 'img')
  const total = values.reduce((a, b) => a + b, 0)
  svg.setAttribute(
    'aria-label',
    `Spend per day over the last ${daily.length} days: $${total.toFixed(2)} in all, at most $${Math.max(...values).toFixed(2)} in a day`,
  )
  const plot = height - 20
  daily.forEach((d, i) => {
    const h = (Number(d.usd) / max) * (plot - 10)
    const rect = document.createElementNS(ns, 'rect')
    rect.setAttribute('x', String(i * bar + 1))
    rect.setAttribute('y', String(plot - h))
    rect.setAttribute('width', String(Math.max(1, bar - 2)))
    rect.setAttribute('height', String(h))
    rect.setAttribute('data-day', d.day)
    const title = document.createElementNS(ns, 'title')
    title.textContent = `${d.day}: $${d.usd}, ${d.images} images, ${d.jobs} jobs`
    rect.append(title)
    svg.append(rect)
  })
  const axis = document.createElementNS(ns, 'line')
  for (const [name, value] of [
    ['x1', 0],
    ['x2', width],
    ['y1', plot],
    ['y2', plot],
  ])
    axis.setAttribute(name, String(value))
  svg.append(axis)
  for (const [i, anchor] of [
    [0, 'start'],
    [daily.length - 1, 'end'],
  ]) {
    const label = document.createElementNS(ns, 'text')
    label.setAttribute('x', String(anchor === 'start' ? 0 : width))
    label.setAttribute('y', String(height - 4))
    label.setAttribute('text-anchor', anchor)
    label.textContent = daily[i]?.day ?? ''
    svg.append(label)
  }
  $('#spend-chart').replaceChildren(svg)
  $('#spend-caption').textContent =
    `$${total.toFixed(2)} over ${daily.length} days (UTC), ${keyId ? 'this key' : 'every key'}; highest day $${Math.max(...values).toFixed(2)}.`
}

$('#spend-key').addEventListener('change', () => void loadSpend().catch(report))

// ---- queue ----

async function loadQueue() {
  const queue = await api('/api/admin/queue')
  const c = queue.counts
  $('#queue-summary').textContent =
    `${queue.depth} waiting · ${c.running} running · ${c.succeeded} succeeded · ${c.failed} failed · ${c.canceled} canceled`
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

// ---- deliveries ----

async function loadDeliveries() {
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

$('#delivery-state').addEventListener('change', () => void loadDeliveries().catch(report))

// ---- engines ----

async function loadEngines(fresh = false) {
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

$('#check-engines').addEventListener('click', () => void loadEngines(true).catch(report))

// ---- wiring ----

async function loadAll() {
  await Promise.all([loadKeys(), loadQueue(), loadDeliveries(), loadEngines()])
  await loadSpend()
}

let refresh
keyForm(async (me) => {
  clearInterval(refresh)
  if (!me) return gate('Enter an admin API key (top right) to see this page.')
  if (me.scope !== 'admin') return gate(`The key "${me.name}" is a user key: these pages need an admin-scoped key.`)
  gate(null)
  try {
    await loadAll()
  } catch (error) {
    report(error)
  }
  // The queue and deliveries change by themselves: look again every 5 s.
  refresh = setInterval(() => void Promise.all([loadQueue(), loadDeliveries()]).catch(() => undefined), 5000)
})
