import fs from 'node:fs'
import path from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { REPO } from './child.js'

/** Debian's chromium (`.ci/run` installs it with apt when missing); override with FLUXHOST_TEST_CHROMIUM. */
export const CHROMIUM =
  process.env.FLUXHOST_TEST_CHROMIUM ??
  ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => fs.existsSync(file)) ??
  '/usr/bin/chromium'

/** Where the browser tests save their screenshots (a CI artifact; not committed). */
export const ARTIFACTS = path.join(REPO, 'test-artifacts')

/**
 * Launches headless Chromium, or says why it cannot: a skip with the reason, or a failure
 * with CI=true (a missing browser is never a silent pass there).
 */
export async function launchBrowser(): Promise<{ ok: true; browser: Browser } | { ok: false; why: string }> {
  if (!fs.existsSync(CHROMIUM)) {
    const why = `no Chromium at ${CHROMIUM} (apt-get install chromium, or set FLUXHOST_TEST_CHROMIUM)`
    if (process.env.CI === 'true') throw new Error(`${why}; CI needs it (.ci/run installs it)`)
    console.warn(`skipping the browser tests: ${why}`)
    return { ok: false, why }
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  return { ok: true, browser }
}

export function screenshotPath(name: string): string {
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  return path.join(ARTIFACTS, `${name}.png`)
}
