// The admin pages: keys (create, revoke, rotate the webhook secret, spend, limits and credits),
// the queue (cancel any key's job), webhook deliveries and engines, and one job's view. Everything
// through /api/admin, with an admin-scoped key. This module wires the parts together:
// admin-keys.ts, admin-limits.ts (with admin-budget.ts), admin-spend.ts, admin-queue.tsx and
// admin-deliveries.tsx (Preact components, with admin-rows.tsx), admin-job.tsx (a job's view),
// admin-engines.ts, and admin-ui.ts (what they share).

import { loadDeliveries, mountDeliveries } from './admin-deliveries.js'
import { loadEngines } from './admin-engines.js'
import { mountJobView, openFromAddress, refreshJobView } from './admin-job.js'
import { createKey, loadKeys } from './admin-keys.js'
import { saveLimits, showLimits, topUp } from './admin-limits.js'
import { loadQueue, mountQueue } from './admin-queue.js'
import { loadSpend } from './admin-spend.js'
import { gate, report } from './admin-ui.js'
import { $, ApiError, keyForm } from './common.js'

$('#create-key').addEventListener('submit', (event) => void createKey(event))
$('#spend-key').addEventListener('change', () => void loadSpend().catch(report))
$('#limits-key').addEventListener('change', () => void showLimits().catch(report))
$('#limits-form').addEventListener('submit', (event) => void saveLimits(event))
$('#credits-form').addEventListener('submit', (event) => void topUp(event))
$('#check-engines').addEventListener('click', () => void loadEngines(true).catch(report))
mountQueue()
mountDeliveries()
mountJobView()

async function loadAll(): Promise<void> {
  await Promise.all([loadKeys(), loadQueue(), loadDeliveries(), loadEngines()])
  await loadSpend()
}

let refresh: ReturnType<typeof setInterval> | undefined
// Each check of the key is numbered: a slower, older one never starts a second refresh.
let checks = 0
keyForm(async (me) => {
  const check = ++checks
  clearInterval(refresh)
  if (!me) return gate('Enter an admin API key (top right) to see this page.')
  if (me.scope !== 'admin') return gate(`The key "${me.name}" is a user key: these pages need an admin-scoped key.`)
  gate(null)
  // A job named in the address (a shared link) opens once the key may read it.
  openFromAddress()
  try {
    await loadAll()
  } catch (error) {
    report(error)
  }
  if (check !== checks) return
  // The queue, the deliveries and an open unfinished job change by themselves: look again every
  // 5 s. A key that stopped working (revoked, from here or elsewhere) stops the page, saying so,
  // instead of polling on.
  refresh = setInterval(
    () =>
      void Promise.all([loadQueue(), loadDeliveries(), refreshJobView()]).catch((error: unknown) => {
        if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) return
        clearInterval(refresh)
        gate('The key this page used no longer works (it was revoked?): enter another admin key (top right).')
      }),
    5000,
  )
})
