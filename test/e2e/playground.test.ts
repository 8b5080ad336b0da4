import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { browserAndServer, launchBrowser, screenshotPath } from '../helpers/browser.js'
import { KEY_A, tempDir } from '../helpers/server.js'

const run = promisify(execFile)
const launched = await launchBrowser()

/**
 * The playground in a real browser (Debian's Chromium through playwright-core), against a
 * real server: what a person does first.
 */
describe.runIf(launched.ok)('the playground in a browser', () => {
  const suite = browserAndServer(launched, { FLUXHOST_ALLOW_SIMULATE: '1' })

  /** A fresh page (empty storage), its console errors collected. */
  const open = async (options: { key?: string; width?: number } = {}) => {
    const context = await suite.browser.newContext({ viewport: { width: options.width ?? 1280, height: 900 } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()))
    await page.goto(`${suite.server.url}/`)
    if (options.key !== undefined) {
      await page.getByLabel('API key', { exact: true }).fill(options.key)
      await page.getByRole('button', { name: 'Use key' }).click()
    }
    return { page, errors, close: () => context.close() }
  }

  const generate = async (page: Page, prompt: string) => {
    await page.getByLabel('Prompt', { exact: true }).fill(prompt)
    await page.getByRole('button', { name: 'Generate' }).click()
  }

  it('says plainly when the key is missing or wrong, and keeps a good one across visits', async () => {
    const { page, errors, close } = await open()
    await expect.poll(() => page.locator('#key-status').textContent()).toContain('No key')
    await generate(page, 'a lighthouse')
    await expect.poll(() => page.locator('#form-error').textContent()).toContain('Enter your API key')

    await page.getByLabel('API key', { exact: true }).fill('fh_not-a-real-key')
    await page.getByRole('button', { name: 'Use key' }).click()
    await expect.poll(() => page.locator('#key-status').textContent()).toContain('not accepted')

    await page.getByLabel('API key', { exact: true }).fill(KEY_A)
    await page.getByRole('button', { name: 'Use key' }).click()
    await expect.poll(() => page.locator('#key-status').textContent()).toMatch(/admin/)
    await page.reload()
    await expect.poll(() => page.locator('#key-status').textContent()).toMatch(/admin/)
    expect(errors.filter((e) => !e.includes('401'))).toEqual([])
    await close()
  })

  it('generates an image from the page and shows it, large, with a download link', async () => {
    const { page, errors, close } = await open({ key: KEY_A })
    await page.getByRole('button', { name: '16:9' }).click()
    expect(await page.getByRole('button', { name: '16:9' }).getAttribute('aria-pressed')).toBe('true')
    expect(await page.getByLabel('Width').inputValue()).toBe('1344')
    await page.getByLabel('Seed', { exact: true }).fill('42')
    await page.getByText('Advanced settings').click()
    await page.getByLabel('Format').selectOption('png')
    await generate(page, 'A clean product photo of a red apple on a white table')
    const image = page.locator('#images img').first()
    await image.waitFor({ state: 'visible' })
    const loadedWidth = () =>
      image.evaluate((node) => {
        const img = node as unknown as { complete: boolean; naturalWidth: number }
        return img.complete ? img.naturalWidth : 0
      })
    await expect.poll(loadedWidth).toBe(1344)
    await expect.poll(() => page.locator('#job-status').textContent()).toContain('seed 42')
    expect(await page.getByRole('link', { name: 'Download' }).first().getAttribute('download')).toMatch(/^fluxhost-/)
    expect(await page.locator('#progress').getAttribute('aria-valuenow')).toBe('100')
    await page.evaluate('window.scrollTo(0, 0)')
    await page.screenshot({ path: screenshotPath('playground'), fullPage: false })
    expect(errors).toEqual([])
    await close()
  })

  it("takes flux-dev's steps and guidance, shown only for flux-dev, and re-runs with them", async () => {
    const { page, errors, close } = await open({ key: KEY_A })
    await page.getByText('Advanced settings').click()
    expect(await page.getByLabel('Steps').isVisible()).toBe(false)
    await page.getByLabel('Model', { exact: true }).selectOption('flux-dev')
    await page.getByLabel('Steps').fill('12')
    await page.getByLabel('Guidance').fill('4.5')
    expect(await page.locator('#code').textContent()).toContain('"steps": 12')
    await page.getByRole('button', { name: '1:1' }).click()
    await generate(page, 'a dev job')
    await page.locator('#images img').first().waitFor({ state: 'visible' })
    const card = page.locator('#gallery li', { hasText: 'a dev job' })
    await expect.poll(() => card.count()).toBe(1)
    const id = (await card.getAttribute('data-job'))!
    const dev = { model: 'flux-dev', prompt: 'a dev job', steps: 12, guidance: 4.5, width: 1024, height: 1024 }
    expect((await suite.server.fluxhost.services.jobs.get(id, undefined)).request).toMatchObject(dev)
    await page.getByLabel('Model', { exact: true }).selectOption('flux-pro-1.1')
    expect(await page.getByLabel('Steps').isVisible()).toBe(false)
    expect(await page.locator('#code').textContent()).not.toContain('steps')
    // Re-run puts the model and its sampling back in the form and submits them.
    await card.getByRole('button', { name: /Re-run/ }).click()
    await expect.poll(() => card.count()).toBe(2)
    expect(await page.getByLabel('Steps').inputValue()).toBe('12')
    const again = (await card.first().getAttribute('data-job'))!
    expect(again).not.toBe(id)
    expect((await suite.server.fluxhost.services.jobs.get(again, undefined)).request).toMatchObject(dev)
    expect(errors).toEqual([])
    await close()
  })

  it('shows live progress of a slow job, and cancels it', async () => {
    const { page, errors, close } = await open({ key: KEY_A })
    // The page sends what a user's request would; the test makes this one slow (a 20 s engine).
    await page.route('**/api/jobs', (route) =>
      route.request().method() === 'POST'
        ? route.continue({ headers: { ...route.request().headers(), 'x-fluxhost-simulate': 'slow=20000' } })
        : route.continue(),
    )
    await generate(page, 'a slow job')
    await expect
      .poll(() => page.locator('#progress').getAttribute('aria-valuenow').then(Number), { timeout: 15_000 })
      .toBeGreaterThan(0)
    await page.getByRole('button', { name: 'Cancel', exact: true }).first().click()
    await expect.poll(() => page.locator('#job-status').textContent()).toContain('Canceled')
    await expect.poll(() => page.locator('#gallery li[data-state="canceled"]').count()).toBeGreaterThan(0)
    expect(errors).toEqual([])
    await close()
  })

  it('lists the history as a gallery, and re-runs a job from it', async () => {
    const { page, errors, close } = await open({ key: KEY_A })
    await generate(page, 'history one')
    await page.locator('#images img').first().waitFor({ state: 'visible' })
    const cards = page.locator('#gallery li')
    await expect.poll(() => cards.count()).toBeGreaterThan(1)
    const first = cards.first()
    // The card changes as the key's live stream brings the job's changes.
    await expect.poll(() => first.getAttribute('data-state')).toBe('succeeded')
    expect(await first.locator('.prompt').textContent()).toBe('history one')
    expect(await first.locator('.meta').allTextContents()).toEqual([
      expect.stringMatching(/flux-pro-1\.1 · 1024×768 · seed \d+/),
      expect.stringMatching(/succeeded · preview · \$0\.04/),
    ])
    // The cards show thumbnails (WebP inside 512 px), not the full images; the thumbnail opens the
    // job (its detail view: gallery.test.ts).
    const thumb = first.locator('img')
    expect(await thumb.getAttribute('src')).toMatch(/\.thumb\.webp\?/)
    await expect
      .poll(() =>
        thumb.evaluate((node) => (node as unknown as { complete: boolean; naturalWidth: number }).naturalWidth),
      )
      .toBe(512)
    expect(await first.getByRole('button', { name: 'Open: history one' }).locator('img').count()).toBe(1)
    const before = await cards.count()
    await first.getByRole('button', { name: /Re-run/ }).click()
    // A new job comes in at the top; the cards already shown stay.
    await expect.poll(() => cards.count()).toBe(before + 1)
    await expect.poll(() => page.locator('#gallery li').first().getAttribute('data-state')).toBe('succeeded')

    // Delete the newest: it leaves the gallery, and its image is gone from the server.
    page.on('dialog', (dialog) => void dialog.accept())
    const newest = page.locator('#gallery li').first()
    const id = (await newest.getAttribute('data-job'))!
    const imageUrl = (await newest.locator('img').getAttribute('src'))!
    await newest.getByRole('button', { name: /^Delete/ }).click()
    await expect.poll(() => page.locator(`#gallery li[data-job="${id}"]`).count()).toBe(0)
    expect((await fetch(imageUrl)).status).toBe(404)
    expect(errors).toEqual([])
    await close()
  })

  it('gives the request as code that runs and returns an image, in every API', async () => {
    const { page, errors, close } = await open({ key: KEY_A })
    await page.getByLabel('Prompt', { exact: true }).fill('Tom\'s "red" apple — $5')
    await page.getByLabel('Seed', { exact: true }).fill('7')
    await page.getByRole('tab', { name: 'Code' }).click()
    const dir = tempDir()
    for (const [dialect, language] of [
      ['bfl', 'curl'],
      ['seaart', 'python'],
      ['apiframe', 'js'],
      ['aiml', 'curl'],
    ] as const) {
      await page.getByLabel('API', { exact: true }).selectOption(dialect)
      await page.getByLabel('Language').selectOption(language)
      const code = (await page.locator('#code').textContent())!
      // The key is never in the code shown: it is read from $FLUXHOST_KEY when the code runs.
      expect(code).not.toContain(KEY_A)
      expect(code).toContain('FLUXHOST_KEY')
      const file = path.join(dir, `${dialect}.${language === 'curl' ? 'sh' : language === 'python' ? 'py' : 'mjs'}`)
      fs.writeFileSync(file, code)
      const { stdout } = await run(
        language === 'curl' ? 'bash' : language === 'python' ? 'python3' : process.execPath,
        [file],
        { timeout: 30_000, env: { ...process.env, FLUXHOST_KEY: KEY_A } },
      )
      const url = stdout.trim().split('\n').at(-1)!
      expect(url, `${dialect} ${language}`).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\//)
      const image = await fetch(url)
      expect(image.status).toBe(200)
      expect(image.headers.get('content-type')).toMatch(/^image\//)
    }
    expect(errors).toEqual([])
    await close()
  })

  it('fits a phone screen, with every control labelled', async () => {
    const { page, errors, close } = await open({ key: KEY_A, width: 390 })
    // (Browser-side code as strings: this file is typechecked without the DOM's types.)
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    const unlabelled = await page.evaluate<string[]>(
      "[...document.querySelectorAll('input, select, textarea')]" +
        ".filter((input) => !input.labels?.length && !input.getAttribute('aria-label'))" +
        '.map((input) => input.id)',
    )
    expect(unlabelled).toEqual([])
    // Keyboard only: the controls are native, so focus and Enter generate.
    await page.getByLabel('Prompt', { exact: true }).focus()
    await page.keyboard.type('typed, not clicked')
    await page.getByRole('button', { name: 'Generate' }).focus()
    await page.keyboard.press('Enter')
    await page.locator('#images img').first().waitFor({ state: 'visible' })
    await page.screenshot({ path: screenshotPath('playground-phone'), fullPage: true })
    expect(errors).toEqual([])
    await close()
  })
})
