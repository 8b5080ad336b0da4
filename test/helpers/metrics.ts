import type { TestServer } from './server.js'

/**
 * One sample of a server's /metrics: the value of the line that starts with `series` (its name
 * and labels exactly as Prometheus prints them, e.g. `fluxhost_sync_unanswered_total{event="left"}`),
 * 0 while the series has no sample yet.
 */
export async function metricValue(server: Pick<TestServer, 'url'>, series: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line ? Number(line.slice(series.length + 1)) : 0
}

/** Jobs a server left for a retry, by why (`left`, `timed_out`, `shutdown`), and retries that took one (`joined`). */
export const unansweredSeries = (event: 'left' | 'timed_out' | 'shutdown' | 'joined') =>
  `fluxhost_sync_unanswered_total{event="${event}"}`

/**
 * Resolves once `series` is above `before` (asked again as soon as each answer has come): an
 * event, not a delay. Throws after `withinMs`, so an event that never comes fails the test
 * instead of hanging it.
 */
export async function metricAbove(
  server: Pick<TestServer, 'url'>,
  series: string,
  before: number,
  withinMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + withinMs
  while ((await metricValue(server, series)) <= before) {
    if (Date.now() > deadline) throw new Error(`${series} never went above ${before}`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}
