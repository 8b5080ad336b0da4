// The admin pages: keys (create, revoke, rotate the webhook secret, spend, limits and credits),
// the queue, webhook deliveries and engines. Everything through /api/admin, with an admin-scoped
// key. This module wires the parts together: admin-keys.js, admin-limits.js (with admin-budget.js),
// admin-spend.js, admin-queue.js (queue and deliveries), admin-engines.js, and admin-ui.js (what
// they share).

import { loadEngines } from './admin-engines.js'
import { createKey, loadKeys } from './admin-keys.js'
import { saveLimits, showLimits, topUp } from './admin-limits.js'
import { loadDeliveries, loadQueue } from './admin-queue.js'
import { loadSpend } from './admin-spend.js'
import { gate, report } from './admin-ui.js'
import { $, keyForm } from './common.js'

$('#create-key').addEventListener('submit', createKey)
$('#spend-key').addEventListener('change', () => void loadSpend().catch(report))
$('#limits-key').addEventListener('change', () => void showLimits().catch(report))
$('#limits-form').addEventListener('submit', saveLimits)
$('#credits-form').addEventListener('submit', topUp)
$('#delivery-state').addEventListener('change', () => void loadDeliveries().catch(report))
$('#check-engines').addEventListener('click', () => void loadEngines(true).catch(report))

async function loadAll() {
  await Promise.all([loadKeys(), loadQueue(), loadDeliveries(), loadEngines()])
  await loadSpend()
}

let refresh
// Each check of the key is numbered: a slower, older one never starts a second refresh.
let checks = 0
keyForm(async (me) => {
  const check = ++checks
  clearInterval(refresh)
  if (!me) return gate('Enter an admin API key (top right) to see this page.')
  if (me.scope !== 'admin') return gate(`The key "${me.name}" is a user key: these pages need an admin-scoped key.`)
  gate(null)
  try {
    await loadAll()
  } catch (error) {
    report(error)
  }
  if (check !== checks) return
  // The queue and deliveries change by themselves: look again every 5 s. A key that stopped
  // working (revoked, from here or elsewhere) stops the page, saying so, instead of polling on.
  refresh = setInterval(
    () =>
      void Promise.all([loadQueue(), loadDeliveries()]).catch((error) => {
        if (error.status !== 401 && error.status !== 403) return
        clearInterval(refresh)
        gate('The key this page used no longer works (it was revoked?): enter another admin key (top right).')
      }),
    5000,
  )
})
