import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { browserAndServer, launchBrowser, openPlayground, simulateCreates } from '../helpers/browser.js'
import { api, KEY_A, KEY_B } from '../helpers/server.js'

const launched = await launchBrowser()

/**
 * What the result panel must never do (from a review of the Preact panel): start a second job
 * while one runs, keep the last key's job after another key is entered, drop the focus after a
 * refused create, or announce the clock to screen readers every second.
 */
describe.runIf(launched.ok)('the playground result panel, guarded', () => {
  const suite = browserAndServer(launched, { FLUXHOST_ALLOW_SIMULATE: '1' })

  const state = (page: Page) => page.locator('#job-status').getAttribute('data-state')
  const jobsOf = async (key: string) => (await api(`${suite.server.url}/api/jobs?limit=100`, { key })).body.data

  it('makes no second job on Ctrl+Enter while one runs; says its state, not the clock, to screen readers', async () => {
    const { page, errors, close } = await openPlayground(suite.browser, suite.server.url, KEY_B)
    await simulateCreates(page, 'slow=20000')
    await page.getByLabel('Prompt', { exact: true }).fill('the only one')
    await page.getByLabel('Prompt', { exact: true }).press('Control+Enter')
    await expect.poll(() => state(page)).toBe('running')
    await page.getByLabel('Prompt', { exact: true }).press('Control+Enter')
    await expect.poll(() => page.locator('#form-error').textContent()).toMatch(/A job is running/)
    expect((await jobsOf(KEY_B)).map((job: { request: { prompt: string } }) => job.request.prompt)).toEqual([
      'the only one',
    ])
    // The live region says "Generating…"; the percent and seconds beside it are not in it.
    await expect.poll(() => page.locator('#job-status').textContent()).toMatch(/^Generating… \d+ %, \d+ s$/)
    expect(await page.locator('#job-status [role="status"]').textContent()).toBe('Generating…')
    expect(await page.locator('#job-status').getAttribute('aria-live')).toBeNull()
    await page.getByRole('button', { name: 'Cancel', exact: true }).click()
    await expect.poll(() => state(page)).toBe('canceled')
    expect(errors).toEqual([])
    await close()
  })

  it("shows nothing of the last key's job once another key is entered (or none)", async () => {
    const { page, errors, close } = await openPlayground(suite.browser, suite.server.url, KEY_B)
    await simulateCreates(page, 'slow=20000')
    await page.getByLabel('Prompt', { exact: true }).fill("B's job")
    await page.getByRole('button', { name: 'Generate' }).click()
    await expect.poll(() => state(page)).toBe('running')
    const running = (await jobsOf(KEY_B))[0].id as string
    await page.getByRole('button', { name: 'Forget' }).click()
    await expect.poll(() => page.locator('#job-status').textContent()).toBe('Nothing generated yet.')
    expect(await page.locator('#submit').isDisabled()).toBe(false)
    expect(await page.locator('#cancel').isHidden()).toBe(true)
    expect(await page.locator('#images').locator('*').count()).toBe(0)
    await api(`${suite.server.url}/api/jobs/${running}/cancel`, { method: 'POST', key: KEY_B })
    expect(errors).toEqual([])
    await close()
  })

  it('gives the focus back to Generate when a create is refused', async () => {
    const { page, errors, close } = await openPlayground(suite.browser, suite.server.url, KEY_A)
    await page.route('**/api/jobs', (route) =>
      route.request().method() === 'POST'
        ? route.fulfill({
            status: 503,
            contentType: 'application/json',
            body: JSON.stringify({ error: { code: 'OVERLOADED', message: 'Busy.' } }),
          })
        : route.continue(),
    )
    await page.getByLabel('Prompt', { exact: true }).fill('refused')
    await page.getByRole('button', { name: 'Generate' }).click()
    await expect.poll(() => page.locator('#form-error').textContent()).toContain('Busy.')
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id')).toBe('submit')
    expect(errors).toEqual([])
    await close()
  })
})
