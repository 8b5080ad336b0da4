import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  browserAndServer,
  launchBrowser,
  openPlayground,
  screenshotPath,
  seriousViolations,
} from '../helpers/browser.js'
import { KEY_A } from '../helpers/server.js'

const launched = await launchBrowser()

interface Box {
  top: number
  bottom: number
}

/** The playground as one screen: Generate always in reach, the result fitted to the screen. */
describe.runIf(launched.ok)('the playground on one screen', () => {
  const suite = browserAndServer(launched)

  const open = (width: number, height: number) =>
    openPlayground(suite.browser, suite.server.url, KEY_A, { width, height })
  /** Where an element is on the screen now (top and bottom, in CSS pixels of the viewport). */
  const box = (page: Page, selector: string) =>
    page.evaluate<Box>(`(() => {
      const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect()
      return { top: r.top, bottom: r.bottom }
    })()`)

  it('at 1366×900: Generate (and cost) in view with advanced settings open, a tall image fitted, zoom', async () => {
    const { page, errors, close } = await open(1366, 900)
    const generate = page.locator('#submit')
    expect(await generate.textContent()).toBe('Generate · $0.04')
    await page.getByLabel('Images').selectOption('2')
    expect(await generate.textContent()).toBe('Generate · $0.08')
    await page.getByLabel('Images').selectOption('1')
    await page.getByText('Advanced settings').click()
    expect((await box(page, '#submit')).bottom).toBeLessThanOrEqual(900)
    // The (short) result sits right under its tabs: the tall settings column leaves no gap between.
    expect((await box(page, '#result-panel')).top - (await box(page, '.tabs')).bottom).toBeLessThan(24)

    await page.getByLabel('Width', { exact: true }).fill('768')
    await page.getByLabel('Height', { exact: true }).fill('1344')
    // Ctrl+Enter from the prompt generates.
    await page.getByLabel('Prompt', { exact: true }).fill('a tall lighthouse')
    await page.getByLabel('Prompt', { exact: true }).press('Control+Enter')
    const image = page.locator('#images img').first()
    await expect
      .poll(() => image.evaluate((node) => (node as unknown as { naturalWidth: number }).naturalWidth))
      .toBe(768)
    const fitted = await box(page, '#images img')
    expect(fitted.bottom).toBeLessThanOrEqual(900)
    expect(fitted.bottom - fitted.top).toBeGreaterThan(400)
    await page.screenshot({ path: screenshotPath('playground-one-screen') })

    // Click: the image at full size over the page; Escape returns.
    await page.getByRole('button', { name: 'Image 1 at full size' }).click()
    const zoomed = page.locator('dialog.zoomed img')
    await expect.poll(() => zoomed.evaluate((node) => (node as unknown as { width: number }).width)).toBe(768)
    expect(await seriousViolations(page), 'zoom dialog open').toEqual([])
    await page.keyboard.press('Escape')
    await expect.poll(() => page.locator('dialog.zoomed').count()).toBe(0)
    expect(errors).toEqual([])
    await close()
  })

  it('shows the code in a tab beside the result, coloured, and goes back to the result on Generate', async () => {
    const { page, errors, close } = await open(1366, 900)
    await page.getByLabel('Prompt', { exact: true }).fill('Tom\'s "quoted" <b>prompt</b>')
    const codeTab = page.getByRole('tab', { name: 'Code' })
    await codeTab.click()
    expect(await codeTab.getAttribute('aria-selected')).toBe('true')
    expect(await page.locator('#result-panel').isHidden()).toBe(true)
    const code = page.locator('#code')
    expect(await code.isVisible()).toBe(true)
    // Coloured by spans of text: the prompt is text in the code, never markup on the page.
    expect(await code.locator('span.tok-str').count()).toBeGreaterThan(3)
    expect(await code.locator('span.tok-key').count()).toBeGreaterThan(0)
    expect(await code.locator('b').count()).toBe(0)
    expect(await code.textContent()).toContain('<b>prompt</b>')
    // The arrow keys move between the tabs, as tabs do.
    await codeTab.press('ArrowLeft')
    expect(await page.getByRole('tab', { name: 'Result' }).getAttribute('aria-selected')).toBe('true')
    await codeTab.click()
    await page.getByLabel('Prompt', { exact: true }).press('Control+Enter')
    await expect.poll(() => page.locator('#result-panel').isVisible()).toBe(true)
    expect(errors).toEqual([])
    await close()
  })

  it('at 390×844: Generate stays reachable over the settings, and the result comes into view after it', async () => {
    const { page, errors, close } = await open(390, 844)
    const generate = await box(page, '#submit')
    expect(generate.bottom).toBeLessThanOrEqual(844)
    await page.getByLabel('Prompt', { exact: true }).fill('on a phone')
    await page.locator('#submit').click()
    await expect.poll(() => page.locator('#job-status').getAttribute('data-state')).toBe('succeeded')
    await expect.poll(async () => (await box(page, '#job-status')).top).toBeLessThan(844)
    expect((await box(page, '#job-status')).top).toBeGreaterThanOrEqual(0)
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    expect(errors).toEqual([])
    await close()
  })
})
