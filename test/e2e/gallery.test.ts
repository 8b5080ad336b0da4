import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, openPlayground, screenshotPath, seriousViolations } from '../helpers/browser.js'
import { api, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'

const launched = await launchBrowser()

/**
 * The history as a gallery: search, filters, infinite scroll, two columns on a phone, a job's
 * detail view (from its card or a link) and favourites.
 */
describe.runIf(launched.ok)('the playground gallery', () => {
  let browser: Browser
  let server: TestServer
  const failed: string[] = []

  beforeAll(async () => {
    browser = (launched as { browser: Browser }).browser
    server = await startTestServer({ FLUXHOST_ALLOW_SIMULATE: '1' })
    const made: string[] = []
    for (let i = 0; i < 16; i++) {
      const prompt = i % 5 === 0 ? `a needle ${i}` : `hay ${i}`
      const model = i === 3 ? 'flux-dev' : 'flux-pro-1.1'
      const headers: Record<string, string> = i === 7 ? { 'x-fluxhost-simulate': 'error' } : {}
      const job = await api(`${server.url}/api/jobs`, { key: KEY_B, body: { prompt, model }, headers })
      made.push(job.body.id)
      if (i === 7) failed.push(job.body.id)
    }
    for (const id of made) await server.waitForJob(id)
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  const open = (width: number) => openPlayground(browser, server.url, KEY_B, { width, height: 844, live: false })

  it('loads the next page as it scrolls into view, and filters by prompt, state and model', async () => {
    const { page, close } = await open(1366)
    const cards = page.locator('#gallery li')
    await expect.poll(() => cards.count()).toBe(12)
    // Scrolled to the end of the history: the rest comes without a click.
    await page.locator('#more').scrollIntoViewIfNeeded()
    await expect.poll(() => cards.count()).toBe(16)
    expect(await page.locator('#more').isHidden()).toBe(true)

    await page.getByLabel('Search prompts').fill('NEEDLE')
    await expect.poll(() => cards.count()).toBe(4)
    expect(await cards.locator('.prompt').allTextContents()).toEqual([
      'a needle 15',
      'a needle 10',
      'a needle 5',
      'a needle 0',
    ])
    await page.getByLabel('Search prompts').fill('')
    await page.getByLabel('Filter by state').selectOption('failed')
    await expect.poll(() => cards.count()).toBe(1)
    expect(await cards.first().getAttribute('data-job')).toBe(failed[0])
    await page.getByLabel('Filter by state').selectOption('')
    await page.getByLabel('Filter by model').selectOption('flux-dev')
    await expect.poll(() => cards.count()).toBe(1)
    expect(await cards.locator('.prompt').textContent()).toBe('hay 3')
    await close()
  })

  it('shows two columns on a phone, no button text broken over two lines ("Re-/run")', async () => {
    const { page, close } = await open(390)
    const cards = page.locator('#gallery li')
    await expect.poll(() => cards.count()).toBe(12)
    const [first, second] = [await cards.nth(0).boundingBox(), await cards.nth(1).boundingBox()]
    expect(second!.y).toBe(first!.y)
    expect(second!.x).toBeGreaterThan(first!.x)
    // Each button's text sits on one line: the boxes of each of its words share one top.
    const broken = await page.evaluate(`[...document.querySelectorAll('#history button, #generate button')]
      .filter((button) => button.offsetParent !== null)
      .filter((button) => {
        const walker = document.createTreeWalker(button, NodeFilter.SHOW_TEXT)
        for (let text = walker.nextNode(); text; text = walker.nextNode()) {
          const range = document.createRange()
          range.selectNodeContents(text)
          if (new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1) return true
        }
        return false
      })
      .map((button) => button.textContent.trim())`)
    expect(broken).toEqual([])
    await close()
  })

  it('opens a job from its card: its settings, its error, and back with Esc; a link opens it too', async () => {
    for (const width of [1366, 390]) {
      const { page, close } = await open(width)
      const card = page.locator(`#gallery li[data-job="${failed[0]}"]`)
      await page.getByLabel('Filter by state').selectOption('failed')
      await card.getByRole('button', { name: /^failed — Open: hay 7/ }).click()
      const dialog = page.getByRole('dialog', { name: 'Job' })
      await expect.poll(() => dialog.isVisible()).toBe(true)
      await expect.poll(() => dialog.locator('.reason').textContent()).toMatch(/simulated: the upstream engine failed/)
      const facts = Object.fromEntries(
        (await dialog.locator('.facts > div').allInnerTexts()).map((text) => text.split('\n') as [string, string]),
      )
      expect(facts).toMatchObject({ Model: 'flux-pro-1.1', Size: '1024×768', State: 'failed', Cost: 'not charged' })
      expect(facts.Seed).toMatch(/^\d+$/)
      expect(await dialog.locator('.detail-prompt').textContent()).toBe('hay 7')
      // The dialog fits the screen: nothing to scroll sideways, on a phone either.
      const box = (await dialog.boundingBox())!
      expect(box.x).toBeGreaterThanOrEqual(0)
      expect(box.x + box.width).toBeLessThanOrEqual(width)
      expect(await seriousViolations(page)).toEqual([])
      await page.screenshot({ path: screenshotPath(`gallery-detail-${width}`) })
      expect(new URL(page.url()).hash).toBe(`#job=${failed[0]}`)
      await page.keyboard.press('Escape')
      await expect.poll(() => dialog.isVisible()).toBe(false)
      await expect.poll(() => new URL(page.url()).hash).toBe('')

      // The link (#job=<id>) opens it on a fresh load.
      await page.goto(`${server.url}/#job=${failed[0]}`)
      await page.reload()
      await expect.poll(() => page.getByRole('dialog', { name: 'Job' }).locator('.reason').count()).toBe(1)
      await close()
    }
  })

  it("marks favourites from a card and filters by them; the key's other pages see it live", async () => {
    const { page, close } = await openPlayground(browser, server.url, KEY_B)
    const other = await openPlayground(browser, server.url, KEY_B)
    const cards = page.locator('#gallery li')
    await expect.poll(() => cards.count()).toBe(12)
    const target = cards.nth(2)
    const id = (await target.getAttribute('data-job'))!
    const star = target.getByRole('button', { name: /^Favourite:/ })
    expect(await star.getAttribute('aria-pressed')).toBe('false')
    await star.click()
    await expect.poll(() => star.getAttribute('aria-pressed')).toBe('true')
    // The other page of the key is told by its live stream.
    const elsewhere = other.page.locator(`#gallery li[data-job="${id}"]`).getByRole('button', { name: /^Favourite:/ })
    await expect.poll(() => elsewhere.getAttribute('aria-pressed')).toBe('true')

    await page.getByLabel('Favourites only').check()
    await expect.poll(() => cards.count()).toBe(1)
    expect(await cards.first().getAttribute('data-job')).toBe(id)
    // Kept by the server: a fresh load shows it too; unmarked from the detail view, it is gone.
    await page.reload()
    await page.getByLabel('Favourites only').check()
    await expect.poll(() => cards.count()).toBe(1)
    await cards.first().locator('.open').click()
    const dialog = page.getByRole('dialog', { name: 'Job' })
    const inDialog = dialog.getByRole('button', { name: /^Favourite:/ })
    await expect.poll(() => inDialog.getAttribute('aria-pressed')).toBe('true')
    await inDialog.click()
    await expect.poll(() => inDialog.getAttribute('aria-pressed')).toBe('false')
    expect((await api(`${server.url}/api/jobs/${id}`, { key: KEY_B })).body.favourite).toBe(false)
    // Showing favourites only, the unmarked job leaves the list at once.
    await expect.poll(() => cards.count()).toBe(0)
    await other.close()
    await close()
  })

  it('keeps a change made while a load was on its way: the older list does not put back the old star', async () => {
    const { page, errors, close } = await openPlayground(browser, server.url, KEY_B)
    const cards = page.locator('#gallery li')
    await expect.poll(() => cards.count()).toBe(12)
    const id = (await cards.nth(1).getAttribute('data-job'))!
    // The next list is read now, and answered only after the star is set.
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    await page.route(/\/api\/jobs\?/, async (route) => {
      const response = await route.fetch()
      await released
      await route.fulfill({ response })
    })
    await page.getByLabel('Filter by state').selectOption('succeeded')
    const star = page.locator(`#gallery li[data-job="${id}"]`).getByRole('button', { name: /^Favourite:/ })
    await star.click()
    await expect.poll(() => star.getAttribute('aria-pressed')).toBe('true')
    release()
    // The filtered list is shown (the failed job left it), with the star as it is now.
    await expect.poll(() => page.locator('#gallery li[data-state="failed"]').count()).toBe(0)
    expect(await star.getAttribute('aria-pressed')).toBe('true')
    await star.click() // (unmarked again for the tests after)
    await expect.poll(() => star.getAttribute('aria-pressed')).toBe('false')
    expect(errors).toEqual([])
    await close()
  })

  it('takes out a job deleted on another page: live, or when acted on; and survives a broken link', async () => {
    const made = await api(`${server.url}/api/jobs`, { key: KEY_B, body: { prompt: 'deleted elsewhere' } })
    await server.waitForJob(made.body.id)
    const watching = await openPlayground(browser, server.url, KEY_B)
    // A page whose stream is down learns of it when it acts on the job.
    const { page, errors, close } = await openPlayground(browser, server.url, KEY_B, { live: false })
    await page.route('**/api/events**', (route) => route.abort())
    await page.reload()
    const card = page.locator(`#gallery li[data-job="${made.body.id}"]`)
    await card.waitFor()
    const watched = watching.page.locator(`#gallery li[data-job="${made.body.id}"]`)
    await watched.waitFor()
    expect((await api(`${server.url}/api/jobs/${made.body.id}`, { key: KEY_B, method: 'DELETE' })).status).toBe(204)
    await expect.poll(() => watched.count()).toBe(0)
    expect(watching.errors).toEqual([])
    await watching.close()
    await card.getByRole('button', { name: /^Favourite:/ }).click()
    await expect.poll(() => card.count()).toBe(0)
    expect(await page.locator('#form-error').textContent()).toMatch(/gone: it was deleted/)

    // A link with a broken %-escape opens nothing, and the page still works.
    await page.goto(`${server.url}/#job=%E0%A4`)
    await page.reload()
    await expect.poll(() => page.locator('#gallery li').count()).toBeGreaterThan(0)
    expect(await page.getByRole('dialog', { name: 'Job' }).isVisible()).toBe(false)
    expect(errors).toEqual([])
    await close()
  })
})
