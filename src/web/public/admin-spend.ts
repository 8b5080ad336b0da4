// The spend chart: spend per day over the last 30 days, as inline SVG (no library), as wide as
// its panel, with a value axis; every amount in one money format.
import type { Usage } from './admin-types.js'
import { $, api, el } from './common.js'

/** Every amount of this section: US dollars, 2 decimals, 3 for fractions of a cent's tenth ($0.025). */
const dollars = (value: number): string =>
  new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: 2,
    maximumFractionDigits: 3,
  }).format(value)

/** A round top for the value axis, at or above `value` (1, 2 or 5 times a power of ten). */
function niceCeiling(value: number): number {
  if (value <= 0) return 0.1
  const power = 10 ** Math.floor(Math.log10(value))
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= value) ?? 10 * power
}

const NS = 'http://www.w3.org/2000/svg'
function node(name: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const child = document.createElementNS(NS, name)
  for (const [key, value] of Object.entries(attributes)) child.setAttribute(key, String(value))
  if (text !== undefined) child.textContent = text
  return child
}

export async function loadSpend(): Promise<void> {
  const keyId = $<HTMLSelectElement>('#spend-key').value
  const query = keyId ? `&keyId=${encodeURIComponent(keyId)}` : ''
  const { daily, byEngine } = await api<Usage>(`/api/admin/usage?days=30${query}`)
  $('#spend-engines tbody').replaceChildren(
    ...byEngine.map((e) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row', text: e.engine }),
        el('td', { text: String(e.jobs) }),
        el('td', { text: dollars(Number(e.usd)) }),
        el('td', { text: e.pricedJobs > 0 ? `${dollars(Number(e.upstreamUsd))} (${e.pricedJobs} jobs)` : 'unknown' }),
        el('td', { text: e.pricedJobs > 0 ? dollars(Number(e.marginUsd)) : '—' }),
      ),
    ),
  )
  const values = daily.map((d) => Number(d.usd))
  const total = values.reduce((a, b) => a + b, 0)
  const highest = Math.max(...values, 0)
  // The chart is as wide as its panel (in the panel's pixels: text stays its size).
  const width = Math.max(320, Math.round($('#spend-chart').clientWidth) || 600)
  const height = 200
  const left = 56
  const plot = { top: 8, bottom: height - 22, left, right: width - 4 }
  const top = niceCeiling(highest)
  const svg = node('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img' })
  svg.setAttribute(
    'aria-label',
    `Spend per day over the last ${daily.length} days: ${dollars(total)} in all, at most ${dollars(highest)} in a day`,
  )
  const y = (value: number) => plot.bottom - (value / top) * (plot.bottom - plot.top)
  // The value axis: 0, half and the top, with grid lines.
  for (const value of [0, top / 2, top]) {
    svg.append(node('line', { x1: plot.left, x2: plot.right, y1: y(value), y2: y(value), class: 'grid' }))
    svg.append(node('text', { x: plot.left - 6, y: y(value) + 3, 'text-anchor': 'end' }, dollars(value)))
  }
  const slot = (plot.right - plot.left) / daily.length
  daily.forEach((d, i) => {
    const h = plot.bottom - y(Number(d.usd))
    const rect = node('rect', {
      x: plot.left + i * slot + 1,
      y: plot.bottom - h,
      width: Math.max(1, slot - 2),
      height: h,
      'data-day': d.day,
    })
    rect.append(node('title', {}, `${d.day}: ${dollars(Number(d.usd))}, ${d.images} images, ${d.jobs} jobs`))
    svg.append(rect)
  })
  svg.append(node('line', { x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom }))
  // The day axis: the first, the middle and the last day.
  const middle = Math.floor((daily.length - 1) / 2)
  const ticks: [number, 'start' | 'middle' | 'end'][] = [
    [0, 'start'],
    [middle, 'middle'],
    [daily.length - 1, 'end'],
  ]
  for (const [i, anchor] of ticks) {
    const x = anchor === 'start' ? plot.left : anchor === 'end' ? plot.right : plot.left + (i + 0.5) * slot
    svg.append(node('text', { x, y: height - 6, 'text-anchor': anchor }, daily[i]?.day ?? ''))
  }
  $('#spend-chart').replaceChildren(svg)
  $('#spend-caption').textContent =
    `${dollars(total)} over ${daily.length} days (UTC), ${keyId ? 'this key' : 'every key'}; ` +
    `highest day ${dollars(highest)}.`
}
