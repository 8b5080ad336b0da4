import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { browserAndServer, launchBrowser, seriousViolations } from '../helpers/browser.js'
import { KEY_A } from '../helpers/server.js'

const launched = await launchBrowser()
/** Both pages in the states a person sees, at desktop and phone widths: no serious or critical violation. */
describe.runIf(launched.ok)('accessibility (axe-core)', () => {
  const suite = browserAndServer(launched, { FLUXHOST_ALLOW_SIMULATE: '1' })

  const open = async (path: string, width: number) => {
    const context = await suite.browser.newContext({ viewport: { width, height: 900 } })
    const page = await context.newPage()
    await page.goto(`${suite.server.url}${path}`)
    return { page, close: () => context.close() }
  }
  const useKey = async (page: Page) => {
    await page.getByLabel('API key', { exact: true }).fill(KEY_A)
    await page.getByRole('button', { name: 'Use key' }).click()
  }

  for (const width of [1366, 390]) {
    it(`the playground at ${width} px: without a key, with one, and with a job done`, async () => {
      const { page, close } = await open('/', width)
      expect(await seriousViolations(page), 'no key').toEqual([])
      await useKey(page)
      await expect.poll(() => page.locator('#connection').getAttribute('data-state')).toBe('live')
      await page.getByLabel('Prompt', { exact: true }).fill('an accessible lighthouse')
      await page.getByRole('button', { name: 'Generate' }).click()
      await expect.poll(() => page.locator('#job-status').getAttribute('data-state')).toBe('succeeded')
      await expect.poll(() => page.locator('#gallery li').count()).toBeGreaterThan(0)
      expect(await seriousViolations(page), 'a job done').toEqual([])
      await close()
    })

    it(`the admin page at ${width} px: without a key and with an admin key`, async () => {
      const { page, close } = await open('/admin', width)
      expect(await seriousViolations(page), 'no key').toEqual([])
      await useKey(page)
      await expect.poll(() => page.locator('#keys tbody tr, #keys li').count()).toBeGreaterThan(0)
      expect(await seriousViolations(page), 'admin key').toEqual([])
      await close()
    })
  }
})
