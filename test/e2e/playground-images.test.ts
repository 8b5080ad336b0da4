import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { browserAndServer, launchBrowser, openPlayground, seriousViolations } from '../helpers/browser.js'
import { api, KEY_A } from '../helpers/server.js'

const launched = await launchBrowser()

/** What a person does with a result, and with an image prompt, in a real browser. */
describe.runIf(launched.ok)('the playground: results and image prompts', () => {
  const suite = browserAndServer(launched)

  const open = () => openPlayground(suite.browser, suite.server.url, KEY_A, { clipboard: true })
  const newest = async () => (await api(`${suite.server.url}/api/jobs?limit=1`)).body.data[0]
  /** Generates from the form and waits for the end; the job as the server has it. */
  const generate = async (page: Page, click: () => Promise<void>) => {
    const before = (await newest())?.id
    await click()
    await expect.poll(async () => (await newest())?.id).not.toBe(before)
    await expect.poll(() => page.locator('#job-status').getAttribute('data-state')).toBe('succeeded')
    return newest()
  }
  /** A small PNG made by the page's canvas: a file as a person would drop or paste it. */
  const pngTransfer = (page: Page) =>
    page.evaluateHandle(`(async () => {
      const canvas = document.createElement('canvas')
      canvas.width = 64
      canvas.height = 64
      canvas.getContext('2d').fillRect(0, 0, 32, 32)
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'))
      const transfer = new DataTransfer()
      transfer.items.add(new File([blob], 'dropped.png', { type: 'image/png' }))
      window.lastTransfer = transfer
      return transfer
    })()`)

  it('copies the seed, varies (a new seed), reuses the settings, and uses the image as the image prompt', async () => {
    const { page, errors, close } = await open()
    await page.getByLabel('Prompt', { exact: true }).fill('a result to work with')
    await page.getByRole('button', { name: '1:1' }).click()
    const first = await generate(page, () => page.locator('#submit').click())

    await page.getByRole('button', { name: /^Copy seed/ }).click()
    await expect.poll(() => page.evaluate('navigator.clipboard.readText()')).toBe(String(first.result.seed))
    // Said to screen readers too (the button's name stays "Copy seed …").
    await expect.poll(() => page.locator('#announce').textContent()).toBe(`Seed ${first.result.seed} copied.`)

    const varied = await generate(page, () => page.getByRole('button', { name: /^Vary image 1/ }).click())
    expect(varied.request).toMatchObject({ prompt: 'a result to work with', width: 1024, height: 1024 })
    expect(varied.result.seed).not.toBe(first.result.seed)

    await page.getByLabel('Prompt', { exact: true }).fill('something else')
    await page.getByRole('button', { name: /^Reuse settings/ }).click()
    expect(await page.getByLabel('Prompt', { exact: true }).inputValue()).toBe('a result to work with')
    expect(await page.getByLabel('Seed', { exact: true }).inputValue()).toBe(String(varied.result.seed))
    expect((await newest()).id).toBe(varied.id)

    await page.getByRole('button', { name: 'Use as image prompt: image 1' }).click()
    await page.locator('#image-prompt-preview img').waitFor()
    expect(await page.locator('#advanced').getAttribute('open')).not.toBeNull()
    const prompted = await generate(page, () => page.locator('#submit').click())
    expect(prompted.request.imagePrompt).toBeTruthy()
    expect(errors).toEqual([])
    await close()
  })

  it('takes an image prompt dropped on the settings or pasted, shows it, and removes it', async () => {
    const { page, errors, close } = await open()
    await page.getByLabel('Prompt', { exact: true }).fill('with a dropped image')
    await page.dispatchEvent('#generate', 'drop', { dataTransfer: await pngTransfer(page) })
    const preview = page.locator('#image-prompt-preview img')
    await preview.waitFor()
    expect(await preview.getAttribute('alt')).toBe('The image prompt: dropped.png')
    expect(await seriousViolations(page), 'image prompt shown').toEqual([])
    const dropped = await generate(page, () => page.locator('#submit').click())
    expect(dropped.request.imagePrompt).toBeTruthy()

    await page.getByRole('button', { name: 'Remove the image prompt' }).click()
    expect(await preview.count()).toBe(0)
    const without = await generate(page, () => page.locator('#submit').click())
    expect(without.request.imagePrompt ?? null).toBeNull()

    // (In the page, as text: this file is type-checked without the DOM's types.)
    await pngTransfer(page)
    await page.evaluate('document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: window.lastTransfer }))')
    await preview.waitFor()
    expect(errors).toEqual([])
    await close()
  })
})
