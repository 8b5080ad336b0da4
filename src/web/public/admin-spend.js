// The spend chart: spend per day over the last 30 days, as inline SVG (no library).
import { $, api, el } from './common.js'

export async function loadSpend() {
  const keyId = $('#spend-key').value
  const { daily, byEngine } = await api(`/api/admin/usage?days=30${keyId ? `&keyId=${encodeURIComponent(keyId)}` : ''}`)
  $('#spend-engines tbody').replaceChildren(
    ...byEngine.map((e) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row', text: e.engine }),
        el('td', { text: String(e.jobs) }),
        el('td', { text: `$${e.usd}` }),
        el('td', { text: e.pricedJobs > 0 ? `$${e.upstreamUsd} (${e.pricedJobs} jobs)` : 'unknown' }),
        el('td', { text: e.pricedJobs > 0 ? `$${e.marginUsd}` : '—' }),
      ),
    ),
  )
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
  const highest = `$${Math.max(...values).toFixed(2)}`
  svg.setAttribute(
    'aria-label',
    `Spend per day over the last ${daily.length} days: $${total.toFixed(2)} in all, at most ${highest} in a day`,
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
    `$${total.toFixed(2)} over ${daily.length} days (UTC), ${keyId ? 'this key' : 'every key'}; highest day ${highest}.`
}
