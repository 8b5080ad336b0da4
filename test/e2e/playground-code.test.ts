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

/** The body part of the request-body view (after the head's blank line), parsed. */
const bodyOf = (shown: string): Record<string, unknown> => JSON.parse(shown.slice(shown.indexOf('\n\n') + 2))

/** The Code tab at desktop width: the request body first, in step with the form, and Copy. */
describe.runIf(launched.ok)('the playground: the code panel', () => {
  const suite = browserAndServer(launched)

  it('shows the request body first, follows the form, never holds the key, and Copy copies it', async () => {
    const { page, errors, close } = await openPlayground(suite.browser, suite.server.url, KEY_A, { clipboard: true })
    await page.getByRole('tab', { name: 'Code' }).click()
    const code = page.locator('#code')
    const shown = async () => (await code.textContent()) ?? ''
    expect(await page.getByLabel('Language').inputValue()).toBe('body')
    await expect
      .poll(shown)
      .toMatch(/^POST \/v1\/flux-pro-1\.1\nx-key: \$FLUXHOST_KEY\nContent-Type: application\/json\n\n\{/)

    // Typing a prompt and changing the width show in the body at once.
    await page.getByLabel('Prompt', { exact: true }).fill('A "blue" pear — on a table')
    await expect.poll(async () => bodyOf(await shown()).prompt).toBe('A "blue" pear — on a table')
    await page.getByLabel('Width', { exact: true }).fill('512')
    await page.getByLabel('Width', { exact: true }).press('Tab')
    await expect.poll(async () => bodyOf(await shown()).width).toBe(512)
    await page.getByText('Advanced settings').click()
    await page.getByLabel('Prompt upsampling').check()
    await expect.poll(async () => bodyOf(await shown()).prompt_upsampling).toBe(true)

    // Coloured like the other languages: the method and true are keywords, 512 a number.
    expect(await code.locator('span.tok-key', { hasText: /^POST$/ }).count()).toBe(1)
    expect(await code.locator('span.tok-key', { hasText: /^true$/ }).count()).toBe(1)
    expect(await code.locator('span.tok-num', { hasText: /^512$/ }).count()).toBe(1)
    expect(await code.locator('span.tok-str', { hasText: '"prompt"' }).count()).toBe(1)

    // Another API: its path, its header, its body's names.
    await page.getByLabel('API', { exact: true }).selectOption('apiframe')
    await expect.poll(shown).toMatch(/^POST \/v2\/images\/generate\nX-API-Key: \$FLUXHOST_KEY\n/)
    expect(bodyOf(await shown())).toMatchObject({
      prompt: 'A "blue" pear — on a table',
      model: 'flux-1.1-pro',
      fluxParams: { width: 512, prompt_upsampling: true },
    })
    await page.getByLabel('API', { exact: true }).selectOption('aiml')
    await expect.poll(shown).toContain('Authorization: Bearer $FLUXHOST_KEY')
    expect(await shown()).not.toContain('upsampling')
    expect(await page.locator('#code-note').textContent()).toMatch(/prompt_upsampling/)

    await page.locator('#code-panel').screenshot({ path: screenshotPath('playground-code') })
    expect(await seriousViolations(page), 'Code tab shown').toEqual([])
    // The key is in the page (it was typed), never in the code panel.
    expect(await page.locator('#code-panel').textContent()).not.toContain(KEY_A)

    // Copy copies exactly what is shown.
    await page.getByRole('button', { name: 'Copy', exact: true }).click()
    await expect.poll(() => page.locator('#copy-code').textContent()).toBe('Copied')
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(await shown())
    await expect.poll(() => page.locator('#announce').textContent()).toBe('Code copied.')

    // The other languages are still a choice away.
    await page.getByLabel('Language').selectOption('curl')
    await expect.poll(shown).toMatch(/^#!\/usr\/bin\/env bash/)
    expect(errors).toEqual([])
    await close()
  })
})
