// The API keys: the table (with spend and limits), create, revoke, and rotating a key's webhook secret.

import { limitsCell } from './admin-budget.js'
import { editLimits, listLimitKeys } from './admin-limits.js'
import type { AdminKey, List } from './admin-types.js'
import { money, report, showNotice, when } from './admin-ui.js'
import { $, api, el, type Me, messageOf } from './common.js'

// The id of the key this page calls with: revoking it gets a warning of its own.
let ownKeyId: string | null = null

/** A cell of the keys table, with its column's name (the phone layout shows it before the value). */
const cell = (label: string, attributes: Record<string, string>, ...children: (Node | string)[]) =>
  el('td', { 'data-label': label, ...attributes }, ...children)

export async function loadKeys(): Promise<void> {
  const [{ data }, me] = await Promise.all([api<List<AdminKey>>('/api/admin/keys'), api<Me>('/api/me')])
  ownKeyId = typeof me.id === 'string' ? me.id : null
  // The server refuses to revoke the last active admin key (unless FLUXHOST_API_KEYS has admin
  // keys): the page offers no button that can only fail.
  const admins = data.filter((key) => !key.revokedAt && key.scope === 'admin')
  const lastAdmin = admins.length === 1 && admins[0]?.source === 'db' ? admins[0].id : null
  $('#keys tbody').replaceChildren(
    ...data.map((key) => {
      const active = !key.revokedAt
      return el(
        'tr',
        {
          'data-key': key.id,
          'data-name': key.name,
          'data-active': active ? 'true' : 'false',
          'data-own': key.id === ownKeyId ? 'true' : null,
        },
        el('th', { scope: 'row', text: key.name }),
        cell('Scope', { text: key.scope }),
        cell('Key', {}, el('code', { text: `${key.prefix}…` })),
        cell('Last used', { text: when(key.lastUsedAt) }),
        cell('Last 30 days', { text: `${money(key.usage.last30Days.usd)} · ${key.usage.last30Days.images} img` }),
        cell('All time', { text: `${money(key.usage.total.usd)} · ${key.usage.total.jobs} jobs` }),
        cell('Status', { text: active ? 'active' : `revoked ${when(key.revokedAt)}` }),
        cell('Limits', { class: 'limits' }, ...limitsCell(key)),
        cell('Actions', {}, actions(key, active, lastAdmin)),
      )
    }),
  )
  const spendKey = $<HTMLSelectElement>('#spend-key')
  const chosen = spendKey.value
  spendKey.replaceChildren(
    el('option', { value: '', text: 'every key' }),
    ...data.map((key) => el('option', { value: key.id, text: key.name })),
  )
  spendKey.value = data.some((key) => key.id === chosen) ? chosen : ''
  await listLimitKeys(data)
}

/** A key's buttons (and why one is missing). */
function actions(key: AdminKey, active: boolean, lastAdmin: string | null): HTMLDivElement {
  const button = (text: string, label: string, onclick: () => void) =>
    el('button', { type: 'button', text, 'aria-label': label, onclick })
  return el(
    'div',
    { class: 'actions-cell' },
    active && key.source === 'db' && key.id !== lastAdmin
      ? button('Revoke', `Revoke ${key.name}`, () => void revoke(key))
      : null,
    active ? button('Limits', `Limits of ${key.name}`, () => void editLimits(key.id).catch(report)) : null,
    active ? button('Rotate webhook secret', `Rotate webhook secret of ${key.name}`, () => void rotate(key)) : null,
    key.source === 'env' ? el('span', { class: 'hint', text: 'from FLUXHOST_API_KEYS' }) : null,
    key.id === lastAdmin
      ? el('span', { class: 'hint', text: 'the last admin key: create another to revoke it' })
      : null,
    key.id === ownKeyId ? el('span', { class: 'hint', text: 'this page uses it' }) : null,
  )
}

/** What to ask before revoking `key`: revoking the page's own key locks the page out. */
function revokeQuestion(key: AdminKey): string {
  const jobs = 'its queued and running jobs are canceled (not charged)'
  if (key.id === ownKeyId)
    return (
      `"${key.name}" is the key this page is using. Revoking it signs you out of this page at once: ` +
      `you will need another admin key to come back. Clients using it stop working, and ${jobs}. ` +
      'Revoke your own key?'
    )
  return `Revoke the key "${key.name}"? Clients using it stop working at once, and ${jobs}.`
}

async function revoke(key: AdminKey): Promise<void> {
  if (!confirm(revokeQuestion(key))) return
  let revoked: { canceledJobs: number }
  try {
    revoked = await api(`/api/admin/keys/${encodeURIComponent(key.id)}/revoke`, { method: 'POST' })
  } catch (error) {
    return showNotice(`"${key.name}" was not revoked: ${messageOf(error)}`)
  }
  const canceled = revoked.canceledJobs
  const jobs = canceled ? ` ${canceled} unfinished ${canceled === 1 ? 'job' : 'jobs'} of it canceled.` : ''
  if (key.id === ownKeyId)
    return showNotice(`Revoked "${key.name}", the key this page was using.${jobs} Enter another admin key (top right).`)
  showNotice(`Revoked "${key.name}".${jobs}`)
  try {
    await loadKeys()
  } catch (error) {
    showNotice(messageOf(error))
  }
}

async function rotate(key: AdminKey): Promise<void> {
  if (!confirm(`Rotate the webhook secret of "${key.name}"? Receivers must switch to the new one.`)) return
  try {
    const { secret } = await api<{ secret: string }>(`/api/admin/keys/${encodeURIComponent(key.id)}/webhook-secret`, {
      method: 'POST',
    })
    showNotice(`New webhook secret for "${key.name}" (receivers verify signatures with it):`, secret)
  } catch (error) {
    showNotice(messageOf(error))
  }
}

/** The "Create key" form: the new key is shown once. */
export async function createKey(event: Event): Promise<void> {
  event.preventDefault()
  const nameInput = $<HTMLInputElement>('#new-key-name')
  const name = nameInput.value.trim()
  if (!name) return showNotice('Give the key a name.')
  // Two live keys of one name cannot be told apart in this table, in usage or at a revocation.
  const taken = [...$('#keys tbody').querySelectorAll<HTMLTableRowElement>('tr')].some(
    (row) => row.dataset.name === name && row.dataset.active === 'true',
  )
  if (taken) return showNotice(`A key named "${name}" exists already: choose another name, or revoke that key first.`)
  try {
    const scope = $<HTMLSelectElement>('#new-key-scope').value
    const { key } = await api<{ key: string }>('/api/admin/keys', { method: 'POST', body: { name, scope } })
    showNotice(`Key "${name}" created. Copy it now: it is shown only this once.`, key)
    nameInput.value = ''
    await loadKeys()
  } catch (error) {
    showNotice(messageOf(error))
  }
}
