import fs from 'node:fs'
import net from 'node:net'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  launchBrowser,
  openPlayground,
  screenshotPath,
  seriousViolations,
  simulateCreates,
} from '../helpers/browser.js'
import { api, KEY_A, startTestServer, type TestServer, tempDir } from '../helpers/server.js'

const launched = await launchBrowser()

/** A port free now, for a server that must come back on the same one (the page's origin). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
    probe.on('error', reject)
  })

/**
 * The playground's live state in a real browser: the key's one stream of job changes
 * (GET /api/events) keeps the shown job and every history card current, and survives the
 * server going away mid-job.
 */
describe.runIf(launched.ok)('the playground stays live', () => {
  let browser: Browser
  let server: TestServer
  let port: number
  const dataDir = tempDir()
  const start = () => startTestServer({ FLUXHOST_ALLOW_SIMULATE: '1', FLUXHOST_PORT: String(port) }, { dataDir })

  beforeAll(async () => {
    browser = (launched as { browser: Browser }).browser
    port = await freePort()
    server = await start()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  const open = () => openPlayground(browser, server.url, KEY_A, { width: 1280 })
  /** The page's own creates get `X-Fluxhost-Simulate` (a slow engine), as a test's choice. */
  const slowCreates = simulateCreates

  it('updates the history card of a job made elsewhere, from queued to its image, without a reload', async () => {
    const { page, errors, close } = await open()
    const made = await api(`${server.url}/api/jobs`, {
      body: { prompt: 'made by a script', width: 256, height: 256 },
      headers: { 'x-fluxhost-simulate': 'slow=1500' },
    })
    const card = page.locator(`#gallery li[data-job="${made.body.id}"]`)
    await expect.poll(() => card.count()).toBe(1)
    expect(await page.locator('#gallery li').first().getAttribute('data-job')).toBe(made.body.id)
    await expect.poll(() => card.getAttribute('data-state')).toBe('succeeded')
    expect(await card.locator('img').count()).toBe(1)
    expect(errors).toEqual([])
    await close()
  })

  it('says the connection is lost when the server stops mid-job, and finishes the job after its restart', async () => {
    const { page, errors, close } = await open()
    await slowCreates(page, 'slow=3000')
    await page.getByLabel('Prompt', { exact: true }).fill('through a restart')
    await page.getByRole('button', { name: 'Generate' }).click()
    await expect.poll(() => page.locator('#job-status').getAttribute('data-state')).toBe('running')
    const id = (await page.locator('#gallery li').first().getAttribute('data-job'))!

    // Stopped with no grace: the running job goes back to the queue, and the page's stream ends.
    await server.close()
    const line = page.locator('#connection')
    await expect.poll(() => line.isVisible()).toBe(true)
    expect(await line.textContent()).toMatch(/Connection to fluxhost lost — retrying in \d+ s\./)
    // Cancel is not inert while the server is away: it says why nothing happened.
    await page.getByRole('button', { name: 'Cancel', exact: true }).first().click()
    await expect.poll(() => page.locator('#form-error').textContent()).toContain('did not answer')
    await page.screenshot({ path: screenshotPath('playground-connection-lost') })
    // (Less the known defect of a card's Open button: the running job's card shows its state.)
    expect(await seriousViolations(page), 'connection lost').toEqual([])

    server = await start()
    // The job runs again on the restarted server; the page reconnects and follows it to the end.
    await expect
      .poll(() => page.locator('#job-status').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('succeeded')
    await expect.poll(() => line.isVisible()).toBe(false)
    expect(await page.locator('#images img').count()).toBe(1)
    await expect.poll(() => page.locator(`#gallery li[data-job="${id}"]`).getAttribute('data-state')).toBe('succeeded')
    expect((await server.fluxhost.services.jobs.get(id, undefined)).state).toBe('succeeded')
    expect(errors).toEqual([])
    await close()
  })

  it('keeps the pages of history already loaded when a new job comes in', async () => {
    // More than one page of history (12 cards): Load more, then a new job.
    for (let i = 0; i < 13; i++)
      await api(`${server.url}/api/jobs`, { body: { prompt: `page ${i}`, width: 256, height: 256 } })
    const { page, errors, close } = await open()
    const cards = page.locator('#gallery li')
    await expect.poll(() => cards.count()).toBe(12)
    // The next page comes as the end of the history scrolls into view.
    await page.locator('#more').scrollIntoViewIfNeeded()
    await expect.poll(() => cards.count()).toBeGreaterThan(12)
    const loaded = await cards.count()
    await page.getByLabel('Prompt', { exact: true }).fill('one more')
    await page.getByRole('button', { name: 'Generate' }).click()
    await expect.poll(() => cards.count()).toBe(loaded + 1)
    expect(await cards.first().locator('.prompt').textContent()).toBe('one more')
    expect(errors).toEqual([])
    await close()
  })
})
