import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { browserAndServer, launchBrowser, openPlayground, seriousViolations } from '../helpers/browser.js'
import { api, KEY_A } from '../helpers/server.js'

const launched = await launchBrowser()

/** The settings form in a real browser: prompt upsampling, and sizes shown as they will be sent. */
describe.runIf(launched.ok)('the playground settings', () => {
  const suite = browserAndServer(launched)

  /**
   * The playground with the key set and its stream up, under its own CSP (axe-core is added through
   * the debugging protocol, which the policy does not govern); `errors` has its CSP violations too.
   */
  const open = (width: number, height: number) =>
    openPlayground(suite.browser, suite.server.url, KEY_A, { width, height })
  /**
   * The page's next create (POST /api/jobs): the body the browser sent, and the job as the server
   * has it once it ended (waiting on the answer, not on the status line: it still shows the last job).
   */
  const nextCreate = (page: Page) =>
    page
      .waitForResponse((response) => response.request().method() === 'POST' && response.url().endsWith('/api/jobs'))
      .then(async (response) => {
        const sent = response.request().postDataJSON() as Record<string, unknown>
        const { id } = (await response.json()) as { id: string }
        await suite.server.waitForJob(id)
        return { sent, job: (await api(`${suite.server.url}/api/jobs/${id}`)).body }
      })
  /** The status line of a succeeded job of the preview engine, with what it says after. */
  const doneLine = /^Done in \d+(\.\d)? s\. 1 image\(s\), seed \d+, \$[\d.]+ on preview\.(.*)$/

  for (const [width, height] of [
    [1366, 900],
    [390, 844],
  ] as const) {
    it(`at ${width}×${height}: Prompt upsampling is sent, said on the result, put back by Reuse settings`, async () => {
      const { page, errors, close } = await open(width, height)
      await page.getByText('Advanced settings').click()
      const toggle = page.getByLabel('Prompt upsampling')
      expect(await toggle.isVisible()).toBe(true)
      expect(await toggle.isChecked()).toBe(false)
      await toggle.check()
      expect(await seriousViolations(page), 'advanced settings open').toEqual([])

      // The code panel shows it (BFL's name for it).
      await page.getByRole('tab', { name: 'Code' }).click()
      await page.getByLabel('API', { exact: true }).selectOption('bfl')
      await page.getByLabel('Language').selectOption('curl')
      expect(await page.locator('#code').textContent()).toContain('prompt_upsampling')

      await page.getByLabel('Prompt', { exact: true }).fill(`upsampled at ${width}`)
      const created = nextCreate(page)
      await page.locator('#submit').click()
      const { sent, job } = await created
      expect(sent).toMatchObject({ prompt: `upsampled at ${width}`, promptUpsampling: true })
      expect(job.request).toMatchObject({ prompt: `upsampled at ${width}`, promptUpsampling: true })
      // The test server's engine (preview) cannot upsample, and no upsampler is set: the result says so.
      const status = page.locator('#job-status')
      await expect
        .poll(() => status.textContent())
        .toMatch(/ Prompt not upsampled: the engine does not upsample prompts and no upsampler is configured/)
      expect(await status.textContent()).toMatch(doneLine)

      // Off again, then Reuse settings of that job: on again.
      await toggle.uncheck()
      await page.getByRole('button', { name: /^Reuse settings/ }).click()
      expect(await toggle.isChecked()).toBe(true)
      // Off: the create does not ask for it, the job has it off, and the result says nothing of it.
      await toggle.uncheck()
      const plain = nextCreate(page)
      await page.locator('#submit').click()
      const off = await plain
      expect(off.sent.promptUpsampling).toBeUndefined()
      expect(off.job.request.promptUpsampling).toBe(false)
      await expect.poll(async () => doneLine.exec((await status.textContent()) ?? '')?.[2]).toBe('')
      expect(errors).toEqual([])
      await close()
    })

    it(`at ${width}×${height}: shows the size that will be sent while it is typed, and sends that size`, async () => {
      const { page, errors, close } = await open(width, height)
      const widthField = page.getByLabel('Width', { exact: true })
      const sentSize = page.locator('#size-sent')
      expect(await sentSize.textContent()).toBe('Sends 1024 × 768 px.')
      await widthField.fill('')
      // Empty: the model's default, never 0.
      expect(await sentSize.textContent()).toBe('Sends 1024 × 768 px.')
      await widthField.pressSequentially('1000')
      // Before the field is left: it still says what was typed, the line says what will be sent.
      expect(await page.evaluate('document.activeElement?.id')).toBe('width')
      expect(await widthField.inputValue()).toBe('1000')
      expect(await sentSize.textContent()).toBe('Sends 992 × 768 px.')
      expect(await sentSize.getAttribute('data-rounded')).toBe('true')
      expect(await sentSize.isVisible()).toBe(true)
      expect(await page.locator('#code').textContent()).toContain('992')

      // Ctrl+Enter from the field: the snapped size is sent, and the field shows it.
      await page.getByLabel('Prompt', { exact: true }).fill(`snapped at ${width}`)
      await widthField.focus()
      const created = nextCreate(page)
      await widthField.press('Control+Enter')
      const { sent, job } = await created
      expect(sent).toMatchObject({ width: 992, height: 768 })
      expect(job.request).toMatchObject({ prompt: `snapped at ${width}`, width: 992, height: 768 })
      expect(await widthField.inputValue()).toBe('992')

      // Over the model's limit: the line says the limit, and leaving the field snaps it there.
      const heightField = page.getByLabel('Height', { exact: true })
      await heightField.fill('')
      await heightField.pressSequentially('5000')
      expect(await sentSize.textContent()).toBe('Sends 992 × 1440 px.')
      // Left by a click on what is below it: the field snaps, and nothing moves under the pointer.
      await page.getByText('Advanced settings').click()
      expect(await page.locator('#advanced').getAttribute('open')).not.toBeNull()
      expect(await heightField.inputValue()).toBe('1440')
      expect(await sentSize.getAttribute('data-rounded')).toBe('false')
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')
      expect(overflow).toBeLessThanOrEqual(0)
      expect(errors).toEqual([])
      await close()
    })
  }
})
