import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, screenshotPath } from '../helpers/browser.js'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

const launched = await launchBrowser()

/** The admin pages in a real browser, against a real server. */
describe.runIf(launched.ok)('the admin pages in a browser', () => {
  let browser: Browser
  let server: TestServer
  let hooks: Awaited<ReturnType<typeof startReceiver>>

  beforeAll(async () => {
    browser = (launched as { browser: Browser }).browser
    server = await startTestServer({
      FLUXHOST_ALLOW_SIMULATE: '1',
      FLUXHOST_ALLOW_PRIVATE_URLS: '1',
      FLUXHOST_WEBHOOK_RETRY_SCHEDULE: '0',
    })
    hooks = await startReceiver()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await hooks?.close()
  })

  const open = async (key: string, width = 1280, base = server.url) => {
    const context = await browser.newContext({ viewport: { width, height: 900 } })
    const page = await context.newPage()
    const errors: string[] = []
    const dialogs: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.accept()
    })
    await page.goto(`${base}/admin`)
    await page.getByLabel('API key', { exact: true }).fill(key)
    await page.getByRole('button', { name: 'Use key' }).click()
    return { page, errors, dialogs, close: () => context.close() }
  }

  it('tells a user key that it needs an admin key', async () => {
    const { key } = (await api(`${server.url}/api/admin/keys`, { body: { name: 'just-a-user' } })).body
    const { page, close } = await open(key)
    await expect.poll(() => page.locator('#admin-gate').textContent()).toContain('these pages need an admin-scoped key')
    expect(await page.locator('#keys-section').isHidden()).toBe(true)
    await close()
  })

  it('creates a key, shows it once, and revokes it: the key stops working', async () => {
    const { page, errors, close } = await open(KEY_A)
    await page.getByLabel('Name', { exact: true }).fill('mobile app')
    await page.getByRole('button', { name: 'Create key' }).click()
    const shown = page.locator('#shown-secret')
    await shown.waitFor()
    const key = (await shown.textContent())!
    expect(key).toMatch(/^fh_/)
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'])
    await page.getByRole('button', { name: 'Copy it' }).click()
    await expect.poll(() => page.getByRole('button', { name: 'Copy it' }).textContent()).toBe('Copied')
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(key)
    expect((await api(`${server.url}/api/me`, { key })).body.name).toBe('mobile app')

    await page.getByRole('button', { name: 'Revoke mobile app' }).click()
    await expect.poll(() => page.locator('tr[data-name="mobile app"] td').nth(5).textContent()).toMatch(/^revoked/)
    expect((await api(`${server.url}/api/me`, { key })).status).toBe(401)
    expect(errors).toEqual([])
    await close()
  })

  it('offers no revoke of the last admin key, warns before revoking its own, stops once it is revoked', async () => {
    // No FLUXHOST_API_KEYS: the admin keys in the records are the only ones.
    const lone = await startTestServer({ FLUXHOST_API_KEYS: '' })
    try {
      const root = (await lone.fluxhost.services.keys.create('root', 'admin')).key
      const { page, errors, dialogs, close } = await open(root, 1280, lone.url)
      const notice = page.locator('#new-key')
      await expect.poll(() => page.locator('tr[data-name="root"]').textContent()).toContain('the last admin key')
      expect(await page.getByRole('button', { name: 'Revoke root' }).count()).toBe(0)
      // (The server refuses it too, saying why.)
      const refused = await api(
        `${lone.url}/api/admin/keys/${(await api(`${lone.url}/api/me`, { key: root })).body.id}/revoke`,
        {
          method: 'POST',
          key: root,
        },
      )
      expect(refused.body.error.message).toContain('"root" is the last active admin key')
      expect(await page.locator('tr[data-name="root"] td').nth(5).textContent()).toBe('active')

      await page.getByLabel('Name', { exact: true }).fill('ops')
      await page.getByLabel('Scope', { exact: true }).selectOption('admin')
      await page.getByRole('button', { name: 'Create key' }).click()
      await page.locator('tr[data-name="ops"]').waitFor()
      await page.getByRole('button', { name: 'Revoke ops' }).click()
      await expect.poll(() => notice.textContent()).toMatch(/^Revoked "ops"\./)
      expect(dialogs.at(-1)).toMatch(/^Revoke the key "ops"\?/)

      await page.getByLabel('Name', { exact: true }).fill('ops 2')
      await page.getByLabel('Scope', { exact: true }).selectOption('admin')
      await page.getByRole('button', { name: 'Create key' }).click()
      await page.locator('tr[data-name="ops 2"]').waitFor()
      // Two live keys of one name are refused, naming the name.
      await page.getByLabel('Name', { exact: true }).fill('ops 2')
      await page.getByRole('button', { name: 'Create key' }).click()
      await expect.poll(() => notice.textContent()).toContain('A key named "ops 2" exists already')
      expect(await page.locator('tr[data-name="ops 2"]').count()).toBe(1)

      await page.getByRole('button', { name: 'Revoke root' }).click()
      await expect.poll(() => notice.textContent()).toContain('Revoked "root", the key this page was using')
      expect(dialogs.at(-1)).toContain('Revoking it signs you out of this page')
      expect((await api(`${lone.url}/api/me`, { key: root })).status).toBe(401)
      // The page stops, saying why, instead of polling on with a dead key.
      await expect.poll(() => page.locator('#admin-gate').textContent()).toContain('no longer works')
      expect(await page.locator('#keys-section').isHidden()).toBe(true)
      expect(errors).toEqual([])
      await close()
    } finally {
      await lone.close()
    }
  })

  it('shows spend per day, the queue with failures, deliveries with redelivery, and engines', async () => {
    const failed = await api(`${server.url}/api/jobs`, {
      body: { prompt: 'doomed' },
      headers: { 'x-fluxhost-simulate': 'error' },
    })
    await server.waitForJob(failed.body.id)
    const hooked = await api(`${server.url}/api/jobs`, { body: { prompt: 'hooked', webhookUrl: hooks.url } })
    await server.waitForJob(hooked.body.id)
    await hooks.received(1)

    const { page, errors, close } = await open(KEY_A)
    await expect.poll(() => page.locator('#spend-chart rect').count()).toBe(30)
    expect(await page.locator('#spend-chart svg').getAttribute('aria-label')).toMatch(
      /Spend per day over the last 30 days: \$0\.[0-9]+ in all/,
    )
    // As wide as its panel, with a value axis, and one money format in the chart, its caption and
    // the engines' table.
    const [lastBar, panel] = [
      await page.locator('#spend-chart rect').last().boundingBox(),
      await page.locator('#spend-chart').boundingBox(),
    ]
    expect(lastBar!.x + lastBar!.width).toBeGreaterThan(panel!.x + panel!.width * 0.95)
    const labels = await page.locator('#spend-chart text').allTextContents()
    expect(labels.filter((label) => label.startsWith('$'))).toHaveLength(3)
    const amounts = [
      ...labels,
      ...(await page.locator('#spend-caption').textContent())!.split(' '),
      ...(await page.locator('#spend-engines td').allTextContents()).flatMap((cell) => cell.split(' ')),
    ].filter((word) => word.includes('$'))
    for (const amount of amounts) expect(amount.replace(/[.;,]$/, '')).toMatch(/^\$\d+\.\d{2,3}$/)
    await expect
      .poll(() => page.locator(`#failures tr[data-job="${failed.body.id}"]`).textContent())
      .toContain('simulated')
    await expect.poll(() => page.locator('#engines').textContent()).toContain('preview: reachable')
    await expect.poll(() => page.locator('#latency').textContent()).toContain('preview')

    const row = page.locator('#deliveries tr[data-state="delivered"]').first()
    await row.waitFor()
    await row.getByRole('button', { name: /Redeliver/ }).click()
    await hooks.received(2)
    await page.evaluate('window.scrollTo(0, 0)')
    await page.screenshot({ path: screenshotPath('admin'), fullPage: true })
    expect(errors).toEqual([])
    await close()
  })

  it("sets a key's limits and tops up its credits: the page shows them, and so does the server", async () => {
    const { key, apiKey } = (await api(`${server.url}/api/admin/keys`, { body: { name: 'metered' } })).body
    const limitsUrl = `${server.url}/api/admin/keys/${apiKey.id}/limits`
    const { page, errors, close } = await open(KEY_A)
    await page.getByRole('button', { name: 'Limits of metered' }).click()
    // The editor has read the key's settings (and would fill the form again) before it focuses it.
    await expect.poll(() => page.evaluate<string>('document.activeElement.id')).toBe('limit-concurrency')
    expect(await page.getByLabel('Limits of key', { exact: true }).inputValue()).toBe(apiKey.id)
    const field = (label: string) => page.getByLabel(label, { exact: true })
    await field('Concurrency').fill('2')
    await field('Creates per minute').fill('30')
    await field('Budget (USD)').fill('5')
    await field('Budget period').selectOption('week')
    await page.getByRole('button', { name: 'Save limits' }).click()
    await expect.poll(() => page.locator('#limits-saved').textContent()).toBe('Saved the limits of "metered".')
    const shown = (limit: string) => page.locator(`#limits-standing dd[data-limit="${limit}"]`).textContent()
    expect(await shown('concurrency')).toBe('0 / 2')
    expect(await shown('rpm')).toBe('0 / 30')
    expect(await shown('budget')).toBe('$0.00 spent of $5.00 per week')
    expect(await page.locator('tr[data-name="metered"] td.limits').textContent()).toContain('0 / 30')
    const bar = page.locator('#limits-standing svg.budget-bar')
    expect(await bar.getAttribute('aria-label')).toContain('$0.00 spent and $0.00 reserved of $5.00 this week (0 %')

    await field('Credits to add').fill('250')
    await field('Note').fill('invoice 42')
    await page.getByRole('button', { name: 'Top up credits' }).click()
    const entry = page.locator('#ledger tbody tr').first()
    await expect.poll(() => entry.textContent()).toContain('invoice 42')
    expect(await entry.locator('td').nth(2).textContent()).toBe('+250')
    expect(await entry.locator('td').nth(3).textContent()).toBe('250')
    expect(await shown('credits')).toBe('250 available of 250')

    const limits = (await api(limitsUrl)).body
    expect(limits.concurrency).toMatchObject({ limit: 2, setting: 2 })
    expect(limits.rpm).toMatchObject({ limit: 30, setting: 30 })
    expect(limits.budget).toMatchObject({
      limit: { usd: '5.00', period: 'week' },
      setting: '5.00',
      settingPeriod: 'week',
    })
    expect(limits.credits).toMatchObject({ balance: 250, available: 250 })
    const ledger = (await api(`${server.url}/api/admin/keys/${apiKey.id}/ledger`)).body.data
    expect(ledger[0]).toMatchObject({ kind: 'topup', credits: 250, balance: 250, note: 'invoice 42' })

    // A job of the key's: its charge shows in the bar, against the budget, once the editor reads it again.
    const job = await api(`${server.url}/api/jobs`, { key, body: { prompt: 'metered' } })
    await server.waitForJob(job.body.id)
    await page.getByRole('button', { name: 'Limits of metered' }).click()
    await expect.poll(() => bar.getAttribute('aria-label')).not.toContain('$0.00 spent')
    expect(await shown('credits')).not.toBe('250 available of 250')

    // A bad value: refused, the error names the field, and nothing changes on the server.
    await field('Concurrency').fill('-1')
    await field('Creates per minute').fill('lots')
    await page.getByRole('button', { name: 'Save limits' }).click()
    const problems = page.locator('#limits-error li')
    await expect
      .poll(() => problems.allTextContents())
      .toEqual([
        'Concurrency: Input should be greater than or equal to 0',
        'Creates per minute: Input should be a valid integer',
      ])
    expect(await field('Concurrency').getAttribute('aria-invalid')).toBe('true')
    expect(await field('Budget (USD)').getAttribute('aria-invalid')).toBeNull()
    expect((await api(limitsUrl)).body.concurrency.limit).toBe(2)
    await page.locator('#limits-title').scrollIntoViewIfNeeded()
    await page.screenshot({ path: screenshotPath('admin-limits') })
    expect(errors).toEqual([])
    await close()
  })

  it("sets a key's budget alert webhook and its balance exactly, then removes them: the server has each", async () => {
    // Without FLUXHOST_ALLOW_PRIVATE_URLS, as by default: private webhook URLs are refused. The public
    // one is an address (no DNS here to resolve a name); the server calls it only when a budget is crossed.
    const strict = await startTestServer()
    const publicHook = 'https://93.184.215.14/fluxhost'
    try {
      const { apiKey } = (await api(`${strict.url}/api/admin/keys`, { body: { name: 'alerted' } })).body
      const limitsUrl = `${strict.url}/api/admin/keys/${apiKey.id}/limits`
      const { page, errors, close } = await open(KEY_A, 1280, strict.url)
      await page.getByRole('button', { name: 'Limits of alerted' }).click()
      await expect.poll(() => page.evaluate<string>('document.activeElement.id')).toBe('limit-concurrency')
      const field = (label: string) => page.getByLabel(label, { exact: true })
      const shown = (limit: string) => page.locator(`#limits-standing dd[data-limit="${limit}"]`).textContent()
      const saved = page.locator('#limits-saved')
      await expect.poll(() => shown('webhookUrl')).toBe('no webhook')

      await field('Budget alert webhook URL').fill(publicHook)
      await page.getByRole('button', { name: 'Save limits' }).click()
      await expect.poll(() => saved.textContent()).toBe('Saved the limits of "alerted".')
      expect(await shown('webhookUrl')).toBe(publicHook)
      expect(await field('Budget alert webhook URL').inputValue()).toBe(publicHook)
      expect(await page.locator('tr[data-name="alerted"] td.limits').textContent()).toContain(publicHook)
      expect((await api(limitsUrl)).body.webhookUrl).toBe(publicHook)

      // A private address: refused, the error names the webhook field, the server keeps the URL it had.
      await field('Budget alert webhook URL').fill('http://127.0.0.1:9/x')
      await page.getByRole('button', { name: 'Save limits' }).click()
      await expect
        .poll(() => page.locator('#limits-error li').allTextContents())
        .toEqual([expect.stringMatching(/^Budget alert webhook URL: Webhook URL refused: 127\.0\.0\.1 is a private/)])
      expect(await page.locator('#limits-error li').getAttribute('data-field')).toBe('webhookUrl')
      expect(await field('Budget alert webhook URL').getAttribute('aria-invalid')).toBe('true')
      expect((await api(limitsUrl)).body.webhookUrl).toBe(publicHook)

      await field('Budget alert webhook URL').fill('none') // removes it, as "none" removes a limit
      await page.getByRole('button', { name: 'Save limits' }).click()
      await expect.poll(() => shown('webhookUrl')).toBe('no webhook')
      expect(await page.locator('#limits-error').isHidden()).toBe(true)
      expect(await field('Budget alert webhook URL').inputValue()).toBe('')
      expect((await api(limitsUrl)).body.webhookUrl).toBeNull()

      // The balance set to exactly 100, then removed: both in the ledger, newest first.
      await field('Credits').selectOption('set')
      await field('New balance (credits)').fill('100')
      await field('Note').fill('reset for November')
      await page.getByRole('button', { name: 'Set balance' }).click()
      const rows = page.locator('#ledger tbody tr')
      await expect.poll(() => rows.first().textContent()).toContain('reset for November')
      const cells = async (row: number) => (await rows.nth(row).locator('td').allTextContents()).slice(1, 4)
      expect(await cells(0)).toEqual(['balance set', '—', '100'])
      expect(await saved.textContent()).toBe('Set the balance of "alerted" to 100 credits.')
      expect(await shown('credits')).toBe('100 available of 100')
      expect((await api(limitsUrl)).body.credits).toMatchObject({ balance: 100, available: 100 })

      await field('Credits').selectOption('remove')
      expect(await page.locator('#credits-amount').isHidden()).toBe(true)
      await field('Note').fill('back to the budget alone')
      await page.getByRole('button', { name: 'Remove balance' }).click()
      await expect.poll(() => rows.first().textContent()).toContain('back to the budget alone')
      expect(await cells(0)).toEqual(['balance removed', '—', 'none'])
      expect(await cells(1)).toEqual(['balance set', '—', '100'])
      expect(await shown('credits')).toBe('no prepaid balance')
      expect(await field('Credits to add').isVisible()).toBe(true) // the form is back to a top-up
      expect((await api(limitsUrl)).body.credits.balance).toBeNull()
      expect((await api(`${strict.url}/api/admin/keys/${apiKey.id}/ledger`)).body.data.slice(0, 2)).toMatchObject([
        { kind: 'set', balance: null, note: 'back to the budget alone' },
        { kind: 'set', balance: 100, note: 'reset for November' },
      ])
      expect(errors).toEqual([])
      await close()
    } finally {
      await strict.close()
    }
  })

  it('fits a phone screen, with every control labelled', async () => {
    const { page, close } = await open(KEY_A, 390)
    await page.locator('#keys tbody tr').first().waitFor()
    const unlabelled = await page.evaluate<string[]>(
      "[...document.querySelectorAll('input, select, textarea')]" +
        ".filter((input) => !input.labels?.length && !input.getAttribute('aria-label'))" +
        '.map((input) => input.id)',
    )
    expect(unlabelled).toEqual([])
    // Wide tables scroll inside their box; the page itself does not.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(
      0,
    )
    await close()
  })
})
