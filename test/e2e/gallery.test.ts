import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, openPlayground } from '../helpers/browser.js'
import { api, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'

const launched = await launchBrowser()

/** The history as a gallery: search, filters, infinite scroll, two columns on a phone. */
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

  it('shows two columns on a phone', async () => {
    const { page, close } = await open(390)
    const cards = page.locator('#gallery li')
    await expect.poll(() => cards.count()).toBe(12)
    const [first, second] = [await cards.nth(0).boundingBox(), await cards.nth(1).boundingBox()]
    expect(second!.y).toBe(first!.y)
    expect(second!.x).toBeGreaterThan(first!.x)
    await close()
  })
})
