import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, screenshotPath, seriousViolations } from '../helpers/browser.js'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

/** A webhook delivery, as GET /api/admin/deliveries lists it (what these tests read of it). */
interface Delivery {
  id: string
  jobId: string
  state: string
  attempts: unknown[]
  nextAttemptAt: string | null
}

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

  /**
   * The admin page at `path` (a job's view: `/admin#job=…`) with `key` entered, under the page's
   * own CSP. `errors`: its uncaught errors and console errors (a CSP violation is one).
   */
  const open = async (key: string, width = 1280, base = server.url, { height = 900, path = '/admin' } = {}) => {
    const context = await browser.newContext({ viewport: { width, height } })
    const page = await context.newPage()
    const errors: string[] = []
    const dialogs: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()))
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.accept()
    })
    await page.goto(`${base}${path}`)
    await page.getByLabel('API key', { exact: true }).fill(key)
    await page.getByRole('button', { name: 'Use key' }).click()
    return { page, errors, dialogs, close: () => context.close() }
  }

  /** `errors` less the console's line of each refusal a test brings about (HTTP `statuses`). */
  const besides = (errors: string[], ...statuses: number[]) =>
    errors.filter(
      (error) =>
        !statuses.some((status) =>
          error.startsWith(`Failed to load resource: the server responded with a status of ${status} `),
        ),
    )

  /** Resolves once the page has run what it had pending (its promises, a render and its effects). */
  const settled = (page: Page) =>
    page.evaluate('new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done))))')

  it('tells a user key that it needs an admin key', async () => {
    const { key } = (await api(`${server.url}/api/admin/keys`, { body: { name: 'just-a-user' } })).body
    const { page, errors, close } = await open(key)
    await expect.poll(() => page.locator('#admin-gate').textContent()).toContain('these pages need an admin-scoped key')
    expect(await page.locator('#keys-section').isHidden()).toBe(true)
    expect(errors).toEqual([])
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
      expect(besides(errors, 401)).toEqual([])
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
    const redelivered = await row.getAttribute('data-delivery')
    await row.getByRole('button', { name: /Redeliver/ }).click()
    await hooks.received(2)
    // It says so, where the button was, instead of a silent reload.
    await expect
      .poll(() => page.locator('#delivery-notice').textContent())
      .toMatch(new RegExp(`^Redelivery of ${redelivered} \\(job [\\w-]+\\) queued\\.$`))
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
    expect(besides(errors, 422)).toEqual([])
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
      expect(besides(errors, 422)).toEqual([])
      await close()
    } finally {
      await strict.close()
    }
  })

  /** The sizes the page is checked at: a desktop and a phone. */
  const SCREENS = [
    { name: 'desktop', width: 1366, height: 900 },
    { name: 'phone', width: 390, height: 844 },
  ] as const
  /** On a phone the lists are cards (no table headers); on a desktop, tables. */
  const expectLayout = async (page: Page, phone: boolean, list: string) => {
    expect(await page.locator(`${list}`).evaluate((node) => node.tagName), list).toBe(phone ? 'UL' : 'TABLE')
    if (phone) {
      expect(await page.locator('#queue-section th, #deliveries-section th').count()).toBe(0)
      expect(
        await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth'),
      ).toBeLessThanOrEqual(0)
    }
  }

  for (const screen of SCREENS) {
    it(`lists every key's waiting and running jobs; Cancel ends any, saying so (${screen.name})`, async () => {
      const phone = screen.name === 'phone'
      const { key } = (await api(`${server.url}/api/admin/keys`, { body: { name: `queue-${screen.name}` } })).body
      const slow = (prompt: string) =>
        api(`${server.url}/api/jobs`, { key, body: { prompt }, headers: { 'x-fluxhost-simulate': 'slow=120000' } })
      // Two slow jobs take both of the worker's slots; the third waits behind them.
      const running = [(await slow('held 1')).body.id as string, (await slow('held 2')).body.id as string]
      const cleanup = [...running]
      try {
        await Promise.all(running.map((id) => server.waitUntilRunning(id)))
        const waiting = (await slow('behind them')).body.id as string
        cleanup.push(waiting)
        const { page, errors, dialogs, close } = await open(KEY_A, screen.width, server.url, {
          height: screen.height,
        })
        const job = (id: string) => page.locator(`#active-jobs [data-job="${id}"]`)
        await job(waiting).waitFor()
        expect(await job(waiting).getAttribute('data-state')).toBe('queued')
        expect(await job(waiting).textContent()).toContain(`queue-${screen.name}`)
        expect(await job(running[0]!).getAttribute('data-state')).toBe('running')
        expect(await page.locator('#queue-summary').textContent()).toMatch(/^1 waiting · 2 running/)
        await expectLayout(page, phone, '#active-jobs')
        if (phone) {
          // Each card names its values: label, then value.
          const model = job(waiting).locator('.card-field', { hasText: 'Model' })
          expect(await model.locator('dt').isVisible()).toBe(true)
          expect(await model.locator('dd').textContent()).toBe('flux-pro-1.1')
        } else {
          const headers = await page.locator('#active-jobs th').allTextContents()
          expect(headers).toEqual(['Job', 'Key', 'Model', 'State', 'Progress', 'Age', 'Engine', 'Actions'])
        }
        expect(await seriousViolations(page), 'the queue with jobs').toEqual([])
        await page.locator('#queue-section').screenshot({ path: screenshotPath(`admin-queue-${screen.name}`) })

        // The waiting job, then a running one: each canceled, said, and gone from the list.
        for (const id of [waiting, running[0]!]) {
          await page.getByRole('button', { name: `Cancel job ${id}` }).click()
          await expect
            .poll(() => page.locator('#queue-notice').textContent())
            .toBe(`Job ${id} of "queue-${screen.name}": The job was canceled.`)
          // Its button went with it: focus is on the notice, not lost to the page's start.
          await expect.poll(() => page.evaluate<string>('document.activeElement.id')).toBe('queue-notice')
          expect(dialogs.at(-1)).toMatch(new RegExp(`^Cancel job ${id} of the key "queue-${screen.name}"\\?`))
          await expect.poll(() => job(id).count()).toBe(0)
          expect((await server.waitForJob(id)).state).toBe('canceled')
        }
        expect(await job(running[1]!).getAttribute('data-state')).toBe('running')
        expect(await seriousViolations(page), 'a job canceled').toEqual([])

        // A job that ended just before the click: the API's own reason, said in the same place.
        const last = running[1]!
        await page.route(`**/api/admin/jobs/${last}/cancel`, (route) =>
          route.fulfill({
            status: 409,
            contentType: 'application/json',
            body: JSON.stringify({
              error: { code: 'JOB_NOT_CANCELABLE', message: 'The job has already succeeded and cannot be canceled.' },
            }),
          }),
        )
        await page.getByRole('button', { name: `Cancel job ${last}` }).click()
        const notice = page.locator('#queue-notice')
        await expect
          .poll(() => notice.textContent())
          .toBe(`Job ${last} was not canceled: The job has already succeeded and cannot be canceled.`)
        expect(await notice.getAttribute('data-state')).toBe('error')
        await page.unroute(`**/api/admin/jobs/${last}/cancel`)
        await page.getByRole('button', { name: `Cancel job ${last}` }).click()
        await expect
          .poll(() => notice.textContent())
          .toBe(`Job ${last} of "queue-${screen.name}": The job was canceled.`)
        await expect.poll(() => page.locator('#active-jobs').textContent()).toBe('No job is waiting or running.')
        expect(besides(errors, 409)).toEqual([])
        await close()
      } finally {
        for (const id of cleanup) await api(`${server.url}/api/admin/jobs/${id}/cancel`, { method: 'POST' })
      }
    })

    it(`opens a job's view from its link (a failed one's error) and a shared link (${screen.name})`, async () => {
      const phone = screen.name === 'phone'
      const { key } = (await api(`${server.url}/api/admin/keys`, { body: { name: `viewer-${screen.name}` } })).body
      const failed = await api(`${server.url}/api/jobs`, {
        key,
        body: { prompt: 'a doomed lighthouse', seed: 42, width: 768, height: 512 },
        headers: { 'x-fluxhost-simulate': 'error' },
      })
      const done = await api(`${server.url}/api/jobs`, { key, body: { prompt: 'a fine lighthouse' } })
      const failedJob = await server.waitForJob(failed.body.id)
      await server.waitForJob(done.body.id)

      const { page, errors, close } = await open(KEY_A, screen.width, server.url, { height: screen.height })
      const view = page.locator('#job-view')
      await page.locator(`#failures [data-job="${failed.body.id}"] a`).click()
      await view.waitFor()
      expect(page.url()).toBe(`${server.url}/admin#job=${failed.body.id}`)
      await expect
        .poll(() => view.locator('.job-error').textContent())
        .toBe(`${failedJob.error!.code}: ${failedJob.error!.message}`)
      expect(failedJob.error!.message).toContain('simulated')
      const fact = (term: string) =>
        view.locator('.card-field', { has: page.locator('dt', { hasText: new RegExp(`^${term}$`) }) })
      expect(await fact('State').locator('dd').textContent()).toBe('failed')
      expect(await fact('Key').locator('dd').textContent()).toContain(`viewer-${screen.name}`)
      expect(await fact('Prompt').locator('dd').textContent()).toBe('a doomed lighthouse')
      expect(await fact('Size').locator('dd').textContent()).toBe('768 × 512')
      expect(await fact('Seed').locator('dd').textContent()).toBe('42')
      expect(await seriousViolations(page), 'a failed job shown').toEqual([])
      if (phone)
        expect(
          await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth'),
        ).toBeLessThanOrEqual(0)
      await page.screenshot({ path: screenshotPath(`admin-job-${screen.name}`) })
      await view.getByRole('button', { name: 'Close' }).click()
      await view.waitFor({ state: 'hidden' })
      // (The address is cleared at the dialog's close event, just after it hides.)
      await expect.poll(() => page.url()).toBe(`${server.url}/admin`)

      // The address names another job (a link followed in the open page): it opens, with its image.
      await page.evaluate(`location.hash = '#job=${done.body.id}'`)
      await view.waitFor()
      expect(await view.locator('h2').textContent()).toBe(`Job ${done.body.id}`)
      const image = view.locator('.job-images a')
      await expect.poll(() => image.count()).toBe(1)
      const href = (await image.getAttribute('href'))!
      expect((await fetch(new URL(href, server.url))).headers.get('content-type')).toMatch(/^image\//)
      // The thumbnail loaded (a broken image has no natural width).
      await expect
        .poll(() => image.locator('img').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth))
        .toBeGreaterThan(0)
      expect(await view.locator('.job-error').count()).toBe(0)
      await page.keyboard.press('Escape')
      await view.waitFor({ state: 'hidden' })
      expect(errors).toEqual([])
      await close()

      // A link shared: the page opens with the job's view, once the key is in.
      const shared = await open(KEY_A, screen.width, server.url, {
        height: screen.height,
        path: `/admin#job=${failed.body.id}`,
      })
      await shared.page.locator('#job-view').waitFor()
      expect(await shared.page.locator('#job-view .job-error').textContent()).toContain('simulated')
      expect(shared.errors).toEqual([])
      await shared.close()
    })

    it(`says when a delivery's next attempt is due, and that a redelivery is queued (${screen.name})`, async () => {
      const phone = screen.name === 'phone'
      // A second attempt an hour after the first: a failing receiver's delivery waits, pending.
      const retrying = await startTestServer({
        FLUXHOST_ALLOW_PRIVATE_URLS: '1',
        FLUXHOST_WEBHOOK_RETRY_SCHEDULE: '0,1h',
      })
      const down = await startReceiver(() => ({ status: 500 }))
      try {
        const create = (webhookUrl: string) =>
          api(`${retrying.url}/api/jobs`, { body: { prompt: 'hooked', webhookUrl } })
        const good = await create(hooks.url)
        const bad = await create(down.url)
        await Promise.all([retrying.waitForJob(good.body.id), retrying.waitForJob(bad.body.id)])
        await down.received(1)
        const list = async () => (await api(`${retrying.url}/api/admin/deliveries`)).body.data as Delivery[]
        const of = async (jobId: string) => (await list()).find((d) => d.jobId === jobId)
        await expect.poll(async () => (await of(bad.body.id))?.attempts.length).toBe(1)
        await expect.poll(async () => (await of(good.body.id))?.state).toBe('delivered')
        const waiting = (await of(bad.body.id))!
        const delivered = (await of(good.body.id))!
        expect(waiting).toMatchObject({ state: 'pending', nextAttemptAt: expect.any(String) })

        const { page, errors, close } = await open(KEY_A, screen.width, retrying.url, {
          height: screen.height,
        })
        const row = (id: string) => page.locator(`#deliveries [data-delivery="${id}"]`)
        await row(waiting.id).waitFor()
        await expectLayout(page, phone, '#deliveries')
        const next = (id: string) =>
          phone
            ? row(id).locator('.card-field', { hasText: 'Next attempt' }).locator('dd').textContent()
            : row(id).locator('td').nth(6).textContent()
        const due = await page.evaluate<string>(`new Date(${JSON.stringify(waiting.nextAttemptAt)}).toLocaleString()`)
        expect(await next(waiting.id)).toBe(due)
        expect(await next(delivered.id)).toBe('—')
        expect(
          await row(waiting.id)
            .getByRole('button', { name: /Redeliver/ })
            .count(),
        ).toBe(0)
        expect(await seriousViolations(page), 'the deliveries').toEqual([])

        await row(delivered.id)
          .getByRole('button', { name: `Redeliver ${delivered.id}` })
          .click()
        await expect
          .poll(() => page.locator('#delivery-notice').textContent())
          .toBe(`Redelivery of ${delivered.id} (job ${good.body.id}) queued.`)
        await expect.poll(async () => (await of(good.body.id))?.attempts.length).toBe(2)
        // A refusal is said too, with the API's reason.
        await page.route(`**/api/admin/deliveries/${delivered.id}/redeliver`, (route) =>
          route.fulfill({
            status: 404,
            contentType: 'application/json',
            body: JSON.stringify({ error: { code: 'DELIVERY_NOT_FOUND', message: 'No such delivery.' } }),
          }),
        )
        await row(delivered.id).locator('button').waitFor()
        await row(delivered.id)
          .getByRole('button', { name: `Redeliver ${delivered.id}` })
          .click()
        await expect
          .poll(() => page.locator('#delivery-notice').textContent())
          .toBe(`Delivery ${delivered.id} was not sent again: No such delivery.`)
        expect(await page.locator('#delivery-notice').getAttribute('data-state')).toBe('error')
        expect(await seriousViolations(page), 'a redelivery said').toEqual([])
        await page
          .locator('#deliveries-section')
          .screenshot({ path: screenshotPath(`admin-deliveries-${screen.name}`) })
        expect(besides(errors, 404)).toEqual([])
        await close()
      } finally {
        await down.close()
        await retrying.close()
      }
    })
  }

  /** A job of `key` that runs for two minutes (it holds its slot until canceled): its id. */
  const slowJob = (key: string) => async (prompt: string) =>
    (
      await api(`${server.url}/api/jobs`, {
        key,
        body: { prompt },
        headers: { 'x-fluxhost-simulate': 'slow=120000' },
      })
    ).body.id as string

  it("the job view's Cancel: the API's answer said, focus on Close, the view kept up by the poll", async () => {
    const { key } = (await api(`${server.url}/api/admin/keys`, { body: { name: 'view-cancel' } })).body
    const slow = slowJob(key)
    const first = await slow('canceled in its view')
    const second = await slow('canceled elsewhere')
    try {
      await Promise.all([server.waitUntilRunning(first), server.waitUntilRunning(second)])
      const { page, errors, dialogs, close } = await open(KEY_A)
      const view = page.locator('#job-view')
      const state = () =>
        view
          .locator('.card-field', { has: page.locator('dt', { hasText: /^State$/ }) })
          .locator('dd')
          .textContent()
      // A provider that cannot stop a task: the answer's message says so (as BFL's would), and the view says it.
      const warning =
        'The job was canceled. If bfl had started it, bfl cannot cancel a task: it may still finish there, ' +
        'and be billed there.'
      await page.route(`**/api/admin/jobs/${first}/cancel`, async (route) => {
        const response = await route.fetch()
        const job = await response.json()
        await route.fulfill({ response, json: { ...job, error: { ...job.error, message: warning } } })
      })
      await page.locator(`#active-jobs [data-job="${first}"] a`).click()
      await expect.poll(state).toBe('running')
      await view.getByRole('button', { name: /^Cancel job / }).click()
      await expect
        .poll(() => page.locator('#job-view-notice').textContent())
        .toBe(`Job ${first} of "view-cancel": ${warning}`)
      expect(dialogs.at(-1)).toContain('a provider that cannot cancel a task may still finish it, and bill for it')
      expect(await page.locator('#queue-notice').textContent()).toBe(`Job ${first} of "view-cancel": ${warning}`)
      await expect.poll(state).toBe('canceled')
      expect(await view.getByRole('button', { name: /^Cancel job / }).count()).toBe(0)
      // Its Cancel button went: focus is on Close.
      expect(await page.evaluate<string | null>('document.activeElement.textContent')).toBe('Close')
      expect((await server.waitForJob(first)).state).toBe('canceled')

      // Another running job's view: canceled elsewhere, the view says so at the page's next poll (every 5 s).
      await page.keyboard.press('Escape')
      await view.waitFor({ state: 'hidden' })
      // The dialog's close event (it clears the address) comes a task after it hides: waited for,
      // or it would clear the link set next.
      await expect.poll(() => new URL(page.url()).hash).toBe('')
      await page.evaluate(`location.hash = '#job=${second}'`)
      await expect.poll(state).toBe('running')
      await api(`${server.url}/api/admin/jobs/${second}/cancel`, { method: 'POST' })
      await expect.poll(state, { timeout: 8000 }).toBe('canceled')
      expect(errors).toEqual([])
      await close()
    } finally {
      for (const id of [first, second]) await api(`${server.url}/api/admin/jobs/${id}/cancel`, { method: 'POST' })
    }
  })

  it("leaves a view closed while its Cancel was sent closed; a poll's older answer never undoes a Cancel", async () => {
    const { key } = (await api(`${server.url}/api/admin/keys`, { body: { name: 'race' } })).body
    const slow = slowJob(key)
    const first = await slow('its view closed meanwhile')
    const second = await slow('listed by a late poll')
    try {
      await Promise.all([server.waitUntilRunning(first), server.waitUntilRunning(second)])
      const { page, errors, close } = await open(KEY_A)
      const view = page.locator('#job-view')
      const row = (id: string) => page.locator(`#active-jobs [data-job="${id}"]`)
      const notice = page.locator('#queue-notice')

      // The Cancel's request is held until the view is closed (Escape).
      let reached: () => void = () => {}
      const held = new Promise<void>((resolve) => {
        reached = resolve
      })
      let release: () => void = () => {}
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      await page.route(`**/api/admin/jobs/${first}/cancel`, async (route) => {
        reached()
        await released
        await route.continue()
      })
      await row(first).locator('a').click()
      await view.getByRole('button', { name: /^Cancel job / }).click()
      await held
      await page.keyboard.press('Escape')
      await view.waitFor({ state: 'hidden' })
      await expect.poll(() => page.url()).toBe(`${server.url}/admin`)
      release()
      await expect.poll(() => notice.textContent()).toBe(`Job ${first} of "race": The job was canceled.`)
      await expect.poll(() => row(first).count()).toBe(0)
      await settled(page)
      // The view stays closed, the address as it was.
      expect(await view.evaluate((dialog) => (dialog as unknown as { open: boolean }).open)).toBe(false)
      expect(page.url()).toBe(`${server.url}/admin`)

      // A poll's read of the queue leaves before the Cancel and is answered after the Cancel's own read.
      let late: (() => Promise<void>) | undefined
      const polled = new Promise<() => Promise<void>>((resolve) => {
        void page.route('**/api/admin/queue', async (route) => {
          if (late) return route.continue()
          const response = await route.fetch()
          late = () => route.fulfill({ response })
          resolve(late)
        })
      })
      const answer = await polled
      await row(second)
        .getByRole('button', { name: `Cancel job ${second}` })
        .click()
      await expect.poll(() => notice.textContent()).toBe(`Job ${second} of "race": The job was canceled.`)
      await expect.poll(() => row(second).count()).toBe(0)
      const finished = page.waitForEvent('requestfinished', (request) => request.url().endsWith('/api/admin/queue'))
      await answer()
      await finished
      await settled(page)
      expect(await row(second).count()).toBe(0)
      expect(errors).toEqual([])
      await close()
    } finally {
      for (const id of [first, second]) await api(`${server.url}/api/admin/jobs/${id}/cancel`, { method: 'POST' })
    }
  })

  it("reads no job while locked; a link's job opens once an admin key is in, and survives a lock", async () => {
    const { key } = (await api(`${server.url}/api/admin/keys`, { body: { name: 'locked-out' } })).body
    const made = await api(`${server.url}/api/jobs`, { key, body: { prompt: 'a shared lighthouse' } })
    await server.waitForJob(made.body.id)
    const id = made.body.id as string
    const admin = (await api(`${server.url}/api/admin/keys`, { body: { name: 'revoked-later', scope: 'admin' } })).body
    const { page, errors, close } = await open(key)
    const reads: string[] = []
    page.on('request', (request) => request.url().includes('/api/admin/jobs/') && reads.push(request.url()))
    const view = page.locator('#job-view')
    const useKey = async (value: string) => {
      await page.getByLabel('API key', { exact: true }).fill(value)
      await page.getByRole('button', { name: 'Use key' }).click()
    }
    await expect.poll(() => page.locator('#admin-gate').textContent()).toContain('these pages need an admin-scoped key')
    // A link followed while a user key is in: nothing is read (the key could not), nothing shows.
    await page.evaluate(`location.hash = '#job=${id}'`)
    await settled(page)
    expect(reads).toEqual([])
    expect(await view.isHidden()).toBe(true)

    await useKey(admin.key)
    await view.waitFor()
    expect(await view.locator('h2').textContent()).toBe(`Job ${id}`)
    await expect.poll(() => view.locator('.job-facts').textContent()).toContain('a shared lighthouse')
    expect(await view.locator('[role="alert"]').count()).toBe(0)

    // The page locks (its key revoked: the next poll says so): the view closes, the address keeps the job.
    const closing = page.evaluate(
      "new Promise((done) => document.querySelector('#job-view').addEventListener('close', () => setTimeout(done)))",
    )
    await api(`${server.url}/api/admin/keys/${admin.apiKey.id}/revoke`, { method: 'POST' })
    await closing
    expect(await page.locator('#admin-gate').textContent()).toContain('no longer works')
    expect(await view.isHidden()).toBe(true)
    expect(page.url()).toBe(`${server.url}/admin#job=${id}`)
    await useKey(KEY_A)
    await view.waitFor()
    expect(await view.locator('h2').textContent()).toBe(`Job ${id}`)
    // Closed by the person: the address lets go of it.
    await page.keyboard.press('Escape')
    await view.waitFor({ state: 'hidden' })
    await expect.poll(() => page.url()).toBe(`${server.url}/admin`)
    expect(besides(errors, 401)).toEqual([])
    await close()
  })

  it('fits a phone screen, with every control labelled', async () => {
    const { page, errors, close } = await open(KEY_A, 390)
    await page.locator('#keys tbody tr').first().waitFor()
    const unlabelled = await page.evaluate<string[]>(
      "[...document.querySelectorAll('input, select, textarea')]" +
        ".filter((input) => !input.labels?.length && !input.getAttribute('aria-label'))" +
        '.map((input) => input.id)',
    )
    expect(unlabelled).toEqual([])
    // The keys table shows as cards: its column headers are out of sight, each cell names its column.
    expect((await page.locator('#keys thead').boundingBox())!.width).toBeLessThanOrEqual(1)
    const row = page.locator('#keys tbody tr').first()
    expect((await row.boundingBox())!.width).toBeLessThanOrEqual(390)
    expect(
      await page.evaluate<string>("getComputedStyle(document.querySelector('#keys tbody td'), '::before').content"),
    ).toBe('"Scope: "')
    // Wide tables scroll inside their box; the page itself does not.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(
      0,
    )
    expect(errors).toEqual([])
    await close()
  })
})
