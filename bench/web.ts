// The web pages, loaded as a new visitor would: Debian's Chromium (playwright-core), a fresh
// context per load (cold cache), fluxhost (the built dist/) on loopback. Per page: first
// contentful paint, the load event, and the bytes that came over the wire (sum of the
// resources' transfer sizes, the document included) against their size decoded. Reports;
// asserts nothing.
//
//   npm run build && node --import tsx bench/web.ts
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'
import { CHROMIUM } from '../test/helpers/browser.js'
import { fluxhost, percentile, stopAll } from './lib.js'

const LOADS = Number(process.env.BENCH_WEB_LOADS ?? 10)

/**
 * In the page: its paint and load times, and the bytes of the page and its own files (the paint
 * may come after the load event: waited for, 5 s at most).
 */
const MEASURE = `(async () => {
  const nav = performance.getEntriesByType('navigation')[0]
  const paint = await new Promise((resolve) => {
    setTimeout(() => resolve(undefined), 5000)
    new PerformanceObserver((list) => {
      const entry = list.getEntriesByName('first-contentful-paint')[0]
      if (entry) resolve(entry)
    }).observe({ type: 'paint', buffered: true })
  })
  const own = performance.getEntriesByType('resource')
    .filter((r) => r.name.startsWith(location.origin) && !r.name.includes('/api/'))
  return {
    fcp: paint ? paint.startTime : NaN,
    load: nav.loadEventStart,
    transferred: nav.transferSize + own.reduce((sum, r) => sum + r.transferSize, 0),
    decoded: nav.decodedBodySize + own.reduce((sum, r) => sum + r.decodedBodySize, 0),
  }
})()`

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxhost-bench-web-'))
const { url } = await fluxhost(dataDir)
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
try {
  for (const page of ['/', '/admin']) {
    const fcp: number[] = []
    const load: number[] = []
    let transferred = 0
    let decoded = 0
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.newContext()
      const tab = await context.newPage()
      await tab.goto(`${url}${page}`, { waitUntil: 'load' })
      // (Runs in the page: written as text, since this file is type-checked without the DOM's types.)
      const timing = (await tab.evaluate(MEASURE)) as {
        fcp: number
        load: number
        transferred: number
        decoded: number
      }
      fcp.push(timing.fcp)
      load.push(timing.load)
      transferred = timing.transferred
      decoded = timing.decoded
      await context.close()
    }
    console.log(
      JSON.stringify({
        part: 'web',
        page,
        loads: LOADS,
        firstContentfulPaintMs: { p50: percentile(fcp, 50), max: Math.round(Math.max(...fcp)) },
        loadEventMs: { p50: percentile(load, 50), max: Math.round(Math.max(...load)) },
        bytes: { overTheWire: transferred, decoded },
      }),
    )
  }
} finally {
  await browser.close()
  await stopAll()
  fs.rmSync(dataDir, { recursive: true, force: true })
}
