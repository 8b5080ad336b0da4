// The API keys: the table (with spend and limits), create, revoke, and rotating a key's webhook secret.

import { limitsCell } from './admin-budget.js'
import { editLimits, listLimitKeys } from './admin-limits.js'
import { money, report, showNotice, when } from './admin-ui.js'
import { $, api, el } from './common.js'

// The id of the key this page calls with: revoking it gets a warning of its own.
let ownKeyId = null

export async function loadKeys() {
  const [{ data }, me] = await Promise.all([api('/api/admin/keys'), api('/api/me')])
  ownKeyId = me.id
  // The server refuses to revoke the last active admin key (unless FLUXHOST_API_KEYS has admin
  // keys): the page offers no button that can only fail.
  const admins = data.filter((key) => !key.revokedAt && key.scope === 'admin')
  const lastAdmin = admins.length === 1 && admins[0].source === 'db' ? admins[0].id : null
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
        el('td', { text: key.scope }),
        el('td', {}, el('code', { text: `${key.prefix}…` })),
        el('td', { text: when(key.lastUsedAt) }),
        el('td', { text: `${money(key.usage.last30Days.usd)} · ${key.usage.last30Days.images} img` }),
        el('td', { text: `${money(key.usage.total.usd)} · ${key.usage.total.jobs} jobs` }),
        el('td', { text: active ? 'active' : `revoked ${when(key.revokedAt)}` }),
        el('td', { class: 'limits' }, ...limitsCell(key)),
        el(
          'td',
          {},
          el(
            'div',
            { class: 'actions-cell' },
            active && key.source === 'db' && key.id !== lastAdmin
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
                  text: 'Limits',
                  'aria-label': `Limits of ${key.name}`,
                  onclick: () => void editLimits(key.id).catch(report),
                })
              : null,
            active
              ? el('button', {
                  type: 'button',
                  text: 'Rotate webhook secret',
                  'aria-label': `Rotate webhook secret of ${key.name}`,
                  onclick: () => rotate(key),
                })
              : null,
            key.source === 'env' ? el('span', { class: 'hint', text: 'from FLUXHOST_API_KEYS' }) : null,
            key.id === lastAdmin
              ? el('span', { class: 'hint', text: 'the last admin key: create another to revoke it' })
              : null,
            key.id === ownKeyId ? el('span', { class: 'hint', text: 'this page uses it' }) : null,
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
  await listLimitKeys(data)
}

/** What to ask before revoking `key`: revoking the page's own key locks the page out. */
function revokeQuestion(key) {
  const jobs = 'its queued and running jobs are canceled (not charged)'
  if (key.id === ownKeyId)
    return (
      `"${key.name}" is the key this page is using. Revoking it signs you out of this page at once: ` +
      `you will need another admin key to come back. Clients using it stop working, and ${jobs}. ` +
      'Revoke your own key?'
    )
  return `Revoke the key "${key.name}"? Clients using it stop working at once, and ${jobs}.`
}

async function revoke(key) {
  if (!confirm(revokeQuestion(key))) return
  let revoked
  try {
    revoked = await api(`/api/admin/keys/${encodeURIComponent(key.id)}/revoke`, { method: 'POST' })
  } catch (error) {
    return showNotice(`"${key.name}" was not revoked: ${error.message}`)
  }
  const canceled = revoked.canceledJobs
  const jobs = canceled ? ` ${canceled} unfinished ${canceled === 1 ? 'job' : 'jobs'} of it canceled.` : ''
  if (key.id === ownKeyId)
    return showNotice(`Revoked "${key.name}", the key this page was using.${jobs} Enter another admin key (top right).`)
  showNotice(`Revoked "${key.name}".${jobs}`)
  try {
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

/** The "Create key" form: the new key is shown once. */
export async function createKey(event) {
  event.preventDefault()
  const name = $('#new-key-name').value.trim()
  if (!name) return showNotice('Give the key a name.')
  // Two live keys of one name cannot be told apart in this table, in usage or at a revocation.
  const taken = [...$('#keys tbody').querySelectorAll('tr')].some(
    (row) => row.dataset.name === name && row.dataset.active === 'true',
  )
  if (taken) return showNotice(`A key named "${name}" exists already: choose another name, or revoke that key first.`)
  try {
    const { key } = await api('/api/admin/keys', { method: 'POST', body: { name, scope: $('#new-key-scope').value } })
    showNotice(`Key "${name}" created. Copy it now: it is shown only this once.`, key)
    $('#new-key-name').value = ''
    await loadKeys()
  } catch (error) {
    showNotice(error.message)
  }
}
