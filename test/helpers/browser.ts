import fs from 'node:fs'
import http from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll } from 'vitest'
import { REPO } from './child.js'
import { startTestServer, type TestServer } from './server.js'

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

/** Where a page on another origin loads OpenAI's browser build from (the ESM files of node_modules/openai). */
export const OPENAI_MODULE_PATH = '/openai/index.mjs'
const OPENAI_DIR = path.join(REPO, 'node_modules/openai')

/**
 * The page every origin serves at `/`: it imports OpenAI's browser build and sets it as
 * `window.OpenAI` (then `data-ready` on <html>), so a test's `page.evaluate` can make a client
 * (`new window.OpenAI({ baseURL, apiKey, dangerouslyAllowBrowser: true })`) or call `fetch`.
 */
const ORIGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>another origin</title></head>
<body><script type="module">
import OpenAI from '${OPENAI_MODULE_PATH}'
window.OpenAI = OpenAI
document.documentElement.dataset.ready = 'true'
</script></body></html>
`

export interface PageOrigin {
  /** `http://127.0.0.1:<port>`: an origin of its own (another port is another origin). */
  url: string
  close(): Promise<void>
}

/**
 * A tiny static server standing in for a web app on another origin than fluxhost's: `/` is
 * ORIGIN_PAGE and `/openai/…` the files of the installed `openai` package, nothing else.
 */
export async function startPageOrigin(): Promise<PageOrigin> {
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://origin').pathname
    if (pathname === '/') return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(ORIGIN_PAGE)
    const file = path.join(OPENAI_DIR, decodeURIComponent(pathname.replace(/^\/openai\//, '')))
    const inside = pathname.startsWith('/openai/') && file.startsWith(`${OPENAI_DIR}${path.sep}`)
    if (!inside || !/\.m?js$/.test(file) || !fs.existsSync(file)) return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(fs.readFileSync(file))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A fresh page (own context: empty storage and preflight cache) at `origin`'s page, OpenAI loaded. */
export async function openPageAt(
  browser: Browser,
  origin: PageOrigin,
): Promise<{ page: Page; errors: string[]; close(): Promise<void> }> {
  const context = await browser.newContext()
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(`${origin.url}/`)
  await page.locator('html[data-ready="true"]').waitFor({ state: 'attached' })
  return { page, errors, close: () => context.close() }
}

/**
 * Whether a console line is Chromium's report of a Content-Security-Policy violation ("Refused to
 * apply inline style because it violates the following Content Security Policy directive: …").
 * A resource that failed to load ("Failed to load resource: … 404") is not one: tests cause those.
 */
export const isCspViolation = (text: string): boolean =>
  /Content Security Policy/i.test(text) || /^Refused to (apply|load|execute|connect|frame|create)\b/.test(text)

/**
 * Collects into `errors` the page's uncaught errors and the Content-Security-Policy violations
 * Chromium reports on the console (a style attribute the policy refuses is a bug of the page
 * that throws nothing: without this, a test would not see it).
 */
export function recordErrors(page: Page, errors: string[]): void {
  page.on('pageerror', (error) => errors.push(error.message))
  page.on('console', (message) => {
    if (message.type() === 'error' && isCspViolation(message.text())) errors.push(message.text())
  })
}

/**
 * The playground at `url` in a fresh context (empty storage, cold cache), `key` entered and, by
 * default, its live stream up. `errors`: the page's uncaught errors and its CSP violations
 * (recordErrors).
 */
export async function openPlayground(
  browser: Browser,
  url: string,
  key: string,
  options: { width?: number; height?: number; clipboard?: boolean; live?: boolean } = {},
) {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1366, height: options.height ?? 900 },
  })
  if (options.clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'])
  const page = await context.newPage()
  const errors: string[] = []
  recordErrors(page, errors)
  await page.goto(`${url}/`)
  await page.getByLabel('API key', { exact: true }).fill(key)
  await page.getByRole('button', { name: 'Use key' }).click()
  if (options.live !== false)
    await page.locator('#connection[data-state="live"]').waitFor({ state: 'attached', timeout: 15_000 })
  return { page, errors, close: () => context.close() }
}

/** The page's next creates (POST /api/jobs) carry `X-Fluxhost-Simulate: value`. */
export const simulateCreates = (page: Page, value: string) =>
  page.route('**/api/jobs', (route) =>
    route.request().method() === 'POST'
      ? route.continue({ headers: { ...route.request().headers(), 'x-fluxhost-simulate': value } })
      : route.continue(),
  )

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js')

interface Violation {
  id: string
  impact: string | null
  help: string
  nodes: { target: string[]; failureSummary?: string }[]
}

/**
 * axe-core's verdict on the page as it is now: its serious and critical violations, each with
 * the elements that fail and why. (axe is run in the page by the test, through the debugging
 * protocol, which the pages' Content-Security-Policy does not govern: no context needs to bypass it.)
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate('typeof axe !== "undefined"'))) await page.evaluate(fs.readFileSync(AXE, 'utf8'))
  const violations = (await page.evaluate('axe.run(document).then((r) => r.violations)')) as Violation[]
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

/**
 * The browser and a fluxhost of one describe block: the server started (with `env`) before its
 * tests, both closed after them. `launched` is the file's launchBrowser(), whose describe runs
 * only if it launched (describe.runIf(launched.ok)). Read `suite.browser` and `suite.server`
 * inside the tests (they are set in beforeAll).
 */
export function browserAndServer(
  launched: Awaited<ReturnType<typeof launchBrowser>>,
  env: Record<string, string> = {},
): { browser: Browser; server: TestServer } {
  const suite = {} as { browser: Browser; server: TestServer }
  beforeAll(async () => {
    suite.browser = (launched as { browser: Browser }).browser
    suite.server = await startTestServer(env)
  })
  afterAll(async () => {
    await suite.browser?.close()
    await suite.server?.close()
  })
  return suite
}
