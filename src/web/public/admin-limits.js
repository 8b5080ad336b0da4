// Per-key limits: the editor (concurrency, creates per minute, a budget per UTC day, week or
// month), topping up prepaid credits (1 credit = $0.01), and the key's credit ledger. Changes go
// through PATCH /limits and POST /credits; a refusal's issues are shown next to its form, each
// naming its field, and the field is marked invalid.

import { budgetBar, limitsCell, standingList } from './admin-budget.js'
import { when } from './admin-ui.js'
import { $, api, el, getKey } from './common.js'

/** How many ledger entries the page shows, newest first. */
const LEDGER_ROWS = 20
/** The keys the editor can pick (active ones), by id, as GET /api/admin/keys lists them. */
const keys = new Map()
/** The fields an issue may name, with their labels on the page and their inputs. */
const FIELDS = {
  concurrency: ['Concurrency', '#limit-concurrency'],
  rpm: ['Creates per minute', '#limit-rpm'],
  budget: ['Budget (USD)', '#limit-budget'],
  'budget.usd': ['Budget (USD)', '#limit-budget'],
  'budget.period': ['Budget period', '#limit-period'],
  add: ['Credits to add', '#credits-add'],
  credits: ['Credits to add', '#credits-add'],
  note: ['Note', '#credits-note'],
}
const path = (id, what) => `/api/admin/keys/${encodeURIComponent(id)}/${what}`

/** Like api() from common.js, but a refusal keeps its issues (api() keeps only the message). */
async function send(method, url, body) {
  let response
  try {
    response = await fetch(url, {
      method,
      headers: { 'x-key': getKey(), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  } catch {
    throw Object.assign(new Error('fluxhost did not answer. Is the server running?'), { issues: [] })
  }
  const data = await response.json().catch(() => null)
  if (response.ok) return data
  const message = data?.error?.message ?? `HTTP ${response.status}`
  throw Object.assign(new Error(message), { issues: data?.error?.issues ?? [] })
}

/** Shows `error` in `box`: each issue with the label of the field it names, that field marked invalid. */
function showError(box, form, error) {
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid')
  if (!error) {
    box.hidden = true
    box.replaceChildren()
    return
  }
  const issues = error.issues?.length ? error.issues : [{ loc: [], msg: error.message }]
  const items = issues.map((issue) => {
    const field = issue.loc.filter((part) => part !== 'body').join('.')
    const [label, input] = FIELDS[field] ?? [field, null]
    if (input) $(input).setAttribute('aria-invalid', 'true')
    return el('li', { 'data-field': field || null, text: field ? `${label}: ${issue.msg}` : issue.msg })
  })
  box.replaceChildren(el('p', { text: 'Not saved:' }), el('ul', {}, ...items))
  box.hidden = false
}

/** A setting as typed, as the API takes it: a number, "none", "default"; other text as it is, for the API to refuse. */
function settingOf(text) {
  const value = text.trim()
  if (value === '') return undefined
  if (['none', 'default'].includes(value.toLowerCase())) return value.toLowerCase()
  return Number.isFinite(Number(value)) ? Number(value) : value
}

/** The editor's form, filled with the key's settings (a number, "none" or "default"). */
function fillForm(standing) {
  $('#limit-concurrency').value = String(standing.concurrency.setting)
  $('#limit-rpm').value = String(standing.rpm.setting)
  $('#limit-budget').value = String(standing.budget.setting)
  $('#limit-period').value = standing.budget.settingPeriod ?? standing.budget.limit?.period ?? 'month'
}

/** The chosen key's standing (with its budget bar), and the same in its row of the keys table. */
function showStanding(key, standing) {
  key.limits = standing
  const period = standing.budget.limit
    ? el('p', {
        class: 'hint',
        text:
          `This ${standing.budget.limit.period} (UTC): ${when(standing.budget.periodStart)} to ` +
          `${when(standing.budget.periodEnd)}. Dark: spent; light: reserved by unfinished jobs; line: 80 %.`,
      })
    : null
  $('#limits-standing').replaceChildren(
    ...[standingList(standing), budgetBar(standing.budget, key.name), period].filter(Boolean),
  )
  const cell = $(`#keys tr[data-key="${CSS.escape(key.id)}"] td.limits`)
  cell?.replaceChildren(...limitsCell(key))
}

function showLedger(entries) {
  const signed = (credits) => (credits > 0 ? `+${credits}` : String(credits))
  const what = { topup: 'top-up', set: 'balance set' }
  $('#ledger tbody').replaceChildren(
    ...entries
      .slice(0, LEDGER_ROWS)
      .map((entry) =>
        el(
          'tr',
          { 'data-entry': entry.id },
          el('td', { text: when(entry.at) }),
          el('td', { text: what[entry.kind] ?? entry.kind }),
          el('td', { text: entry.kind === 'set' ? '—' : signed(entry.credits) }),
          el('td', { text: entry.balance === null ? 'none' : String(entry.balance) }),
          el('td', { text: entry.actor }),
          el('td', { text: entry.note ?? '' }),
        ),
      ),
  )
  $('#ledger-empty').hidden = entries.length > 0
  $('#ledger').hidden = entries.length === 0
}

/** The key chosen in the editor, or null. */
const chosen = () => keys.get($('#limits-key').value) ?? null

/** Shows the chosen key in the editor: its standing read afresh, its settings in the form, its ledger. */
export async function showLimits() {
  const key = chosen()
  $('#limits-editor').hidden = !key
  if (!key) return
  const [standing, { data }] = await Promise.all([api(path(key.id, 'limits')), api(path(key.id, 'ledger'))])
  if (chosen() !== key) return // another key was picked meanwhile
  showStanding(key, standing)
  fillForm(standing)
  showLedger(data)
  showError($('#limits-error'), $('#limits-form'), null)
  showError($('#credits-error'), $('#credits-form'), null)
}

/** After the keys table is drawn: the editor's choice of keys (active ones), keeping the one chosen. */
export async function listLimitKeys(data) {
  const before = $('#limits-key').value
  keys.clear()
  for (const key of data) if (!key.revokedAt) keys.set(key.id, key)
  $('#limits-key').replaceChildren(...[...keys.values()].map((key) => el('option', { value: key.id, text: key.name })))
  if (keys.has(before)) $('#limits-key').value = before
  await showLimits()
}

/** The "Limits" button of a key's row: picks it in the editor and goes there. */
export async function editLimits(id) {
  $('#limits-key').value = id
  await showLimits()
  $('#limits-title').scrollIntoView({ block: 'start' })
  $('#limit-concurrency').focus()
}

/** The limits form: sends what is filled in (a blank field stays as it is). */
export async function saveLimits(event) {
  event.preventDefault()
  const key = chosen()
  if (!key) return
  const body = {}
  const concurrency = settingOf($('#limit-concurrency').value)
  const rpm = settingOf($('#limit-rpm').value)
  const budget = settingOf($('#limit-budget').value)
  if (concurrency !== undefined) body.concurrency = concurrency
  if (rpm !== undefined) body.rpm = rpm
  if (typeof budget === 'number') body.budget = { usd: budget, period: $('#limit-period').value }
  else if (budget !== undefined) body.budget = budget
  $('#limits-saved').textContent = ''
  try {
    const standing = await send('PATCH', path(key.id, 'limits'), body)
    showError($('#limits-error'), $('#limits-form'), null)
    showStanding(key, standing)
    fillForm(standing)
    $('#limits-saved').textContent = `Saved the limits of "${key.name}".`
  } catch (error) {
    showError($('#limits-error'), $('#limits-form'), error)
  }
}

/** The top-up form: adds credits (negative takes some back), with a note for the ledger. */
export async function topUp(event) {
  event.preventDefault()
  const key = chosen()
  if (!key) return
  const form = $('#credits-form')
  const text = $('#credits-add').value.trim()
  if (text === '' || !Number.isFinite(Number(text))) {
    const issues = [{ loc: ['body', 'add'], msg: 'Give a number of credits (1 credit = $0.01)' }]
    return showError($('#credits-error'), form, { issues })
  }
  const note = $('#credits-note').value.trim()
  const body = note ? { add: Number(text), note } : { add: Number(text) }
  $('#limits-saved').textContent = ''
  try {
    const standing = await send('POST', path(key.id, 'credits'), body)
    showError($('#credits-error'), form, null)
    showStanding(key, standing)
    form.reset()
    $('#limits-saved').textContent = `Added ${Number(text)} credits to "${key.name}".`
    showLedger((await api(path(key.id, 'ledger'))).data)
  } catch (error) {
    showError($('#credits-error'), form, error)
  }
}
