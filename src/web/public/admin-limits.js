// Per-key limits: the editor (concurrency, creates per minute, a budget per UTC day, week or
// month, the webhook its budget alerts go to), prepaid credits (1 credit = $0.01: a top-up, a
// balance set exactly, or no balance), and the key's credit ledger. Changes go through PATCH
// /limits and POST /credits; a refusal's issues are shown next to its form, each naming its
// field by its label on the page, and the field is marked invalid.

import { budgetBar, limitsCell, standingList } from './admin-budget.js'
import { when } from './admin-ui.js'
import { $, api, el, getKey } from './common.js'

/** How many ledger entries the page shows, newest first. */
const LEDGER_ROWS = 20
/** The keys the editor can pick (active ones), by id, as GET /api/admin/keys lists them. */
const keys = new Map()
/** The fields an issue may name, with their inputs (an issue names a field by the input's label). */
const FIELDS = {
  concurrency: '#limit-concurrency',
  rpm: '#limit-rpm',
  budget: '#limit-budget',
  'budget.usd': '#limit-budget',
  'budget.period': '#limit-period',
  webhookUrl: '#limit-webhook',
  add: '#credits-amount',
  set: '#credits-amount',
  credits: '#credits-amount',
  note: '#credits-note',
}
/** What the credits form does, by its choice: the amount's label (none: no amount) and the button's. */
const CREDIT_ACTIONS = {
  add: { amount: 'Credits to add', button: 'Top up credits' },
  set: { amount: 'New balance (credits)', button: 'Set balance' },
  remove: { amount: null, button: 'Remove balance' },
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
    const input = FIELDS[field] ? $(FIELDS[field]) : null
    const label = input?.labels?.[0]?.textContent ?? field
    input?.setAttribute('aria-invalid', 'true')
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

/**
 * The webhook URL as typed, as PATCH takes it: left out (undefined) when blank or as it is now,
 * null for "none" (no webhook), other text as it is, for the server to vet.
 */
function webhookOf(text, current) {
  const value = text.trim()
  if (value === '' || value === current) return undefined
  return value.toLowerCase() === 'none' ? null : value
}

/** The editor's form, filled with the key's settings (a number, "none" or "default") and its webhook. */
function fillForm(standing) {
  $('#limit-concurrency').value = String(standing.concurrency.setting)
  $('#limit-rpm').value = String(standing.rpm.setting)
  $('#limit-budget').value = String(standing.budget.setting)
  $('#limit-period').value = standing.budget.settingPeriod ?? standing.budget.limit?.period ?? 'month'
  $('#limit-webhook').value = standing.webhookUrl ?? ''
}

/** The credits form as its choice has it: the amount's label (hidden for "Remove balance") and the button's. */
function showCreditAction() {
  const action = CREDIT_ACTIONS[$('#credits-action').value] ?? CREDIT_ACTIONS.add
  $('#credits-amount-field').hidden = action.amount === null
  if (action.amount) $('label[for="credits-amount"]').textContent = action.amount
  $('#credits-submit').textContent = action.button
}
// admin.js wires the forms' submits; the choice of what to do with the credits is this module's.
$('#credits-action').addEventListener('change', showCreditAction)

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
  const what = (entry) => {
    if (entry.kind === 'topup') return 'top-up'
    if (entry.kind !== 'set') return entry.kind
    return entry.balance === null ? 'balance removed' : 'balance set'
  }
  $('#ledger tbody').replaceChildren(
    ...entries
      .slice(0, LEDGER_ROWS)
      .map((entry) =>
        el(
          'tr',
          { 'data-entry': entry.id },
          el('td', { text: when(entry.at) }),
          el('td', { text: what(entry) }),
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
  const webhookUrl = webhookOf($('#limit-webhook').value, key.limits?.webhookUrl ?? null)
  if (concurrency !== undefined) body.concurrency = concurrency
  if (rpm !== undefined) body.rpm = rpm
  if (typeof budget === 'number') body.budget = { usd: budget, period: $('#limit-period').value }
  else if (budget !== undefined) body.budget = budget
  if (webhookUrl !== undefined) body.webhookUrl = webhookUrl
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

/** What the credits form sends, and says once done; or the issue that keeps it from sending. */
function creditChange(name) {
  const action = $('#credits-action').value
  const text = $('#credits-amount').value.trim()
  if (action === 'remove')
    return { body: { set: null }, done: `Removed the balance of "${name}": it is not limited by credits now.` }
  if (text === '' || !Number.isFinite(Number(text))) {
    const msg = 'Give a number of credits (1 credit = $0.01)'
    return { issues: [{ loc: ['body', action === 'set' ? 'set' : 'add'], msg }] }
  }
  const credits = Number(text)
  if (action === 'set') return { body: { set: credits }, done: `Set the balance of "${name}" to ${credits} credits.` }
  return { body: { add: credits }, done: `Added ${credits} credits to "${name}".` }
}

/**
 * The credits form: adds credits (negative takes some back), sets the balance, or removes it
 * (the key is then not limited by credits), with a note for the ledger.
 */
export async function topUp(event) {
  event.preventDefault()
  const key = chosen()
  if (!key) return
  const form = $('#credits-form')
  const change = creditChange(key.name)
  if (change.issues) return showError($('#credits-error'), form, change)
  const note = $('#credits-note').value.trim()
  const body = note ? { ...change.body, note } : change.body
  $('#limits-saved').textContent = ''
  try {
    const standing = await send('POST', path(key.id, 'credits'), body)
    showError($('#credits-error'), form, null)
    showStanding(key, standing)
    form.reset()
    showCreditAction()
    $('#limits-saved').textContent = change.done
    showLedger((await api(path(key.id, 'ledger'))).data)
  } catch (error) {
    showError($('#credits-error'), form, error)
  }
}
