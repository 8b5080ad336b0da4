// A key's limits and where it stands against them, as text (the keys table and the limits
// editor both show it), and its spend against its budget for the current period as a bar
// with the 80 % mark: inline SVG, no library (the page's CSP allows no inline styles).
import type { AdminKey, LimitSetting, Standing } from './admin-types.js'
import { el, usd } from './common.js'

const NS = 'http://www.w3.org/2000/svg'
/** The share of a budget past which the bar warns. */
export const WARN_AT = 0.8

/** "used / limit", or that nothing limits it; "· default" when the server's default applies. */
function countOf(used: number, limit: number | null, setting: LimitSetting): string {
  const shown = limit === null ? `${used} · no limit` : `${used} / ${limit}`
  return setting === 'default' ? `${shown} · default` : shown
}

/** The prepaid credits: available of the balance, or that the key has no balance. */
export function creditsText(credits: Standing['credits']): string {
  if (credits.balance === null) return 'no prepaid balance'
  const reserved = credits.reserved ? `, ${credits.reserved} reserved` : ''
  return `${credits.available} available of ${credits.balance}${reserved}`
}

/** The budget: spent and reserved of the limit in this period, or that the key has none. */
export function budgetText(budget: Standing['budget']): string {
  const fromDefault = budget.setting === 'default' ? ' · default' : ''
  if (!budget.limit) return `no budget${fromDefault}`
  const reserved = Number(budget.reservedUsd) ? ` + ${usd(budget.reservedUsd)} reserved` : ''
  const limit = `${usd(budget.limit.usd)} per ${budget.limit.period}`
  return `${usd(budget.spentUsd)} spent${reserved} of ${limit}${fromDefault}`
}

/**
 * The standing as a list of terms, each value marked with `data-limit` (its field). The budget
 * alert webhook is always listed in the editor (`everyRow`), in the keys table only when set.
 */
export function standingList(standing: Standing, everyRow = true): HTMLDListElement {
  const webhook = standing.webhookUrl ?? null
  const rows: [string, string, string][] = [
    [
      'concurrency',
      'Jobs at once',
      countOf(standing.concurrency.active, standing.concurrency.limit, standing.concurrency.setting),
    ],
    ['rpm', 'Creates this minute', countOf(standing.rpm.used, standing.rpm.limit, standing.rpm.setting)],
    ['credits', 'Credits', creditsText(standing.credits)],
    ['budget', 'Budget', budgetText(standing.budget)],
  ]
  if (webhook || everyRow) rows.push(['webhookUrl', 'Budget alerts to', webhook ?? 'no webhook'])
  return el(
    'dl',
    { class: 'standing' },
    ...rows.flatMap(([field, term, value]) => [
      el('dt', { text: term }),
      el('dd', { 'data-limit': field, text: value }),
    ]),
  )
}

function svg(tag: string, attributes: Record<string, string | number> = {}): SVGElement {
  const node = document.createElementNS(NS, tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value))
  return node
}

/** How much of the budget `value` is, as a share (above 1: over it; a zero budget is passed by any spend). */
const shareOf = (value: number, limit: number): number =>
  limit > 0 ? value / limit : value > 0 ? Number.POSITIVE_INFINITY : 0

/**
 * The bar of spend against the budget for the current period: spent, then reserved (jobs not
 * yet finished), on a track that is the whole budget, with a mark at 80 %. Null without a budget.
 */
export function budgetBar(budget: Standing['budget'], name: string): SVGElement | null {
  if (!budget.limit) return null
  const limit = Number(budget.limit.usd)
  const spent = Number(budget.spentUsd)
  const reserved = Number(budget.reservedUsd)
  const used = shareOf(spent + reserved, limit)
  const spentWidth = Math.min(100, shareOf(spent, limit) * 100)
  const reservedWidth = Math.min(100 - spentWidth, shareOf(reserved, limit) * 100)
  const percent = Number.isFinite(used) ? `${Math.round(used * 100)} %` : 'over'
  const label =
    `Budget of ${name}: ${usd(spent)} spent and ${usd(reserved)} reserved of ${usd(limit)} ` +
    `this ${budget.limit.period} (${percent}; the mark is at ${WARN_AT * 100} %)`
  const bar = svg('svg', {
    class: 'budget-bar',
    viewBox: '0 0 100 10',
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': label,
    'data-state': used >= 1 ? 'over' : used >= WARN_AT ? 'warn' : 'ok',
  })
  const title = svg('title')
  title.textContent = label
  bar.append(
    title,
    svg('rect', { class: 'track', x: 0, y: 0, width: 100, height: 10 }),
    svg('rect', { class: 'spent', x: 0, y: 0, width: spentWidth, height: 10 }),
    svg('rect', { class: 'reserved', x: spentWidth, y: 0, width: reservedWidth, height: 10 }),
    svg('line', { class: 'mark', x1: WARN_AT * 100, x2: WARN_AT * 100, y1: 0, y2: 10 }),
  )
  return bar
}

/** The keys table's cell: the standing and, for a key with a budget, its bar. */
export function limitsCell(key: AdminKey): Element[] {
  const bar = budgetBar(key.limits.budget, key.name)
  return bar ? [standingList(key.limits, false), bar] : [standingList(key.limits, false)]
}
