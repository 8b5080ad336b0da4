// Per-key limits: the editor (concurrency, creates per minute, a budget per UTC day, week or
// month, the webhook its budget alerts go to), prepaid credits (1 credit = $0.01: a top-up, a
// balance set exactly, or no balance), and the key's credit ledger. Changes go through PATCH
// /limits and POST /credits; a refusal's issues are shown next to its form, each naming its
// field by its label on the page, and the field is marked invalid.

import { budgetBar, limitsCell, standingList } from './admin-budget.js'
import { type Issue, Refusal, send } from './admin-send.js'
import type { AdminKey, LedgerEntry, List, Standing } from './admin-types.js'
import { when } from './admin-ui.js'
import { $, api, el, find } from './common.js'

/** How many ledger entries the page shows, newest first. */
const LEDGER_ROWS = 20
/** The keys the editor can pick (active ones), by id, as GET /api/admin/keys lists them. */
const keys = new Map<string, AdminKey>()
/** The fields an issue may name, with their inputs (an issue names a field by the input's label). */
const FIELDS: Record<string, string> = {
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
type CreditAction = 'add' | 'set' | 'remove'
/** What the credits form does, by its choice: the amount's label (none: no amount) and the button's. */
const CREDIT_ACTIONS: Record<CreditAction, { amount: string | null; button: string }> = {
  add: { amount: 'Credits to add', button: 'Top up credits' },
  set: { amount: 'New balance (credits)', button: 'Set balance' },
  remove: { amount: null, button: 'Remove balance' },
}
const path = (id: string, what: string) => `/api/admin/keys/${encodeURIComponent(id)}/${what}`
const input = (selector: string) => $<HTMLInputElement>(selector)
const select = (selector: string) => $<HTMLSelectElement>(selector)

/** Shows `error` in `box`: each issue with the label of the field it names, that field marked invalid. */
function showError(box: HTMLElement, form: HTMLFormElement, error: Error | null): void {
  for (const field of form.querySelectorAll('[aria-invalid]')) field.removeAttribute('aria-invalid')
  if (!error) {
    box.hidden = true
    box.replaceChildren()
    return
  }
  const named = error instanceof Refusal ? error.issues : []
  const issues: Issue[] = named.length > 0 ? named : [{ loc: [], msg: error.message }]
  const items = issues.map((issue) => {
    const field = issue.loc.filter((part) => part !== 'body').join('.')
    const selector = FIELDS[field]
    const control = selector ? find<HTMLInputElement | HTMLSelectElement>(selector) : null
    const label = control?.labels?.[0]?.textContent ?? field
    control?.setAttribute('aria-invalid', 'true')
    return el('li', { 'data-field': field || null, text: field ? `${label}: ${issue.msg}` : issue.msg })
  })
  box.replaceChildren(el('p', { text: 'Not saved:' }), el('ul', {}, ...items))
  box.hidden = false
}

/** A setting as typed, as the API takes it: a number, "none", "default"; other text as it is, for the API to refuse. */
function settingOf(text: string): number | string | undefined {
  const value = text.trim()
  if (value === '') return undefined
  if (['none', 'default'].includes(value.toLowerCase())) return value.toLowerCase()
  return Number.isFinite(Number(value)) ? Number(value) : value
}

/**
 * The webhook URL as typed, as PATCH takes it: left out (undefined) when blank or as it is now,
 * null for "none" (no webhook), other text as it is, for the server to vet.
 */
function webhookOf(text: string, current: string | null): string | null | undefined {
  const value = text.trim()
  if (value === '' || value === current) return undefined
  return value.toLowerCase() === 'none' ? null : value
}

/** The editor's form, filled with the key's settings (a number, "none" or "default") and its webhook. */
function fillForm(standing: Standing): void {
  input('#limit-concurrency').value = String(standing.concurrency.setting)
  input('#limit-rpm').value = String(standing.rpm.setting)
  input('#limit-budget').value = String(standing.budget.setting)
  select('#limit-period').value = standing.budget.settingPeriod ?? standing.budget.limit?.period ?? 'month'
  input('#limit-webhook').value = standing.webhookUrl ?? ''
}

const creditAction = (): CreditAction => {
  const value = select('#credits-action').value
  return value === 'set' || value === 'remove' ? value : 'add'
}

/** The credits form as its choice has it: the amount's label (hidden for "Remove balance") and the button's. */
function showCreditAction(): void {
  const action = CREDIT_ACTIONS[creditAction()]
  $('#credits-amount-field').hidden = action.amount === null
  if (action.amount) $('label[for="credits-amount"]').textContent = action.amount
  $('#credits-submit').textContent = action.button
}
// admin.ts wires the forms' submits; the choice of what to do with the credits is this module's.
$('#credits-action').addEventListener('change', showCreditAction)

/** The chosen key's standing (with its budget bar), and the same in its row of the keys table. */
function showStanding(key: AdminKey, standing: Standing): void {
  key.limits = standing
  const period = standing.budget.limit
    ? el('p', {
        class: 'hint',
        text:
          `This ${standing.budget.limit.period} (UTC): ${when(standing.budget.periodStart)} to ` +
          `${when(standing.budget.periodEnd)}. Dark: spent; light: reserved by unfinished jobs; line: 80 %.`,
      })
    : null
  const bar = budgetBar(standing.budget, key.name)
  $('#limits-standing').replaceChildren(standingList(standing), ...(bar ? [bar] : []), ...(period ? [period] : []))
  find(`#keys tr[data-key="${CSS.escape(key.id)}"] td.limits`)?.replaceChildren(...limitsCell(key))
}

function showLedger(entries: LedgerEntry[]): void {
  const signed = (credits: number) => (credits > 0 ? `+${credits}` : String(credits))
  const what = (entry: LedgerEntry) => {
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
const chosen = (): AdminKey | null => keys.get(select('#limits-key').value) ?? null

/** Shows the chosen key in the editor: its standing read afresh, its settings in the form, its ledger. */
export async function showLimits(): Promise<void> {
  const key = chosen()
  $('#limits-editor').hidden = !key
  if (!key) return
  const [standing, { data }] = await Promise.all([
    api<Standing>(path(key.id, 'limits')),
    api<List<LedgerEntry>>(path(key.id, 'ledger')),
  ])
  if (chosen() !== key) return // another key was picked meanwhile
  showStanding(key, standing)
  fillForm(standing)
  showLedger(data)
  showError($('#limits-error'), $<HTMLFormElement>('#limits-form'), null)
  showError($('#credits-error'), $<HTMLFormElement>('#credits-form'), null)
}

/** After the keys table is drawn: the editor's choice of keys (active ones), keeping the one chosen. */
export async function listLimitKeys(data: AdminKey[]): Promise<void> {
  const before = select('#limits-key').value
  keys.clear()
  for (const key of data) if (!key.revokedAt) keys.set(key.id, key)
  select('#limits-key').replaceChildren(
    ...[...keys.values()].map((key) => el('option', { value: key.id, text: key.name })),
  )
  if (keys.has(before)) select('#limits-key').value = before
  await showLimits()
}

/** The "Limits" button of a key's row: picks it in the editor and goes there. */
export async function editLimits(id: string): Promise<void> {
  select('#limits-key').value = id
  await showLimits()
  $('#limits-title').scrollIntoView({ block: 'start' })
  $('#limit-concurrency').focus()
}

/** The body of PATCH /limits. */
interface LimitsChange {
  concurrency?: number | string
  rpm?: number | string
  budget?: { usd: number; period: string } | string
  webhookUrl?: string | null
}

/** The limits form: sends what is filled in (a blank field stays as it is). */
export async function saveLimits(event: Event): Promise<void> {
  event.preventDefault()
  const key = chosen()
  if (!key) return
  const body: LimitsChange = {}
  const concurrency = settingOf(input('#limit-concurrency').value)
  const rpm = settingOf(input('#limit-rpm').value)
  const budget = settingOf(input('#limit-budget').value)
  const webhookUrl = webhookOf(input('#limit-webhook').value, key.limits?.webhookUrl ?? null)
  if (concurrency !== undefined) body.concurrency = concurrency
  if (rpm !== undefined) body.rpm = rpm
  if (typeof budget === 'number') body.budget = { usd: budget, period: select('#limit-period').value }
  else if (budget !== undefined) body.budget = budget
  if (webhookUrl !== undefined) body.webhookUrl = webhookUrl
  $('#limits-saved').textContent = ''
  try {
    const standing = await send<Standing>('PATCH', path(key.id, 'limits'), body)
    showError($('#limits-error'), $<HTMLFormElement>('#limits-form'), null)
    showStanding(key, standing)
    fillForm(standing)
    $('#limits-saved').textContent = `Saved the limits of "${key.name}".`
  } catch (error) {
    showError($('#limits-error'), $<HTMLFormElement>('#limits-form'), error as Error)
  }
}

/** The body of POST /credits, without its note. */
type CreditsChange = { add: number } | { set: number | null }

/** What the credits form sends, and says once done; or the issue that keeps it from sending. */
function creditChange(name: string): { body: CreditsChange; done: string } | { refusal: Refusal } {
  const action = creditAction()
  const text = input('#credits-amount').value.trim()
  if (action === 'remove')
    return { body: { set: null }, done: `Removed the balance of "${name}": it is not limited by credits now.` }
  if (text === '' || !Number.isFinite(Number(text))) {
    const msg = 'Give a number of credits (1 credit = $0.01)'
    return { refusal: new Refusal(msg, [{ loc: ['body', action === 'set' ? 'set' : 'add'], msg }]) }
  }
  const credits = Number(text)
  if (action === 'set') return { body: { set: credits }, done: `Set the balance of "${name}" to ${credits} credits.` }
  return { body: { add: credits }, done: `Added ${credits} credits to "${name}".` }
}

/**
 * The credits form: adds credits (negative takes some back), sets the balance, or removes it
 * (the key is then not limited by credits), with a note for the ledger.
 */
export async function topUp(event: Event): Promise<void> {
  event.preventDefault()
  const key = chosen()
  if (!key) return
  const form = $<HTMLFormElement>('#credits-form')
  const change = creditChange(key.name)
  if ('refusal' in change) return showError($('#credits-error'), form, change.refusal)
  const note = input('#credits-note').value.trim()
  const body = note ? { ...change.body, note } : change.body
  $('#limits-saved').textContent = ''
  try {
    const standing = await send<Standing>('POST', path(key.id, 'credits'), body)
    showError($('#credits-error'), form, null)
    showStanding(key, standing)
    form.reset()
    showCreditAction()
    $('#limits-saved').textContent = change.done
    showLedger((await api<List<LedgerEntry>>(path(key.id, 'ledger'))).data)
  } catch (error) {
    showError($('#credits-error'), form, error as Error)
  }
}
