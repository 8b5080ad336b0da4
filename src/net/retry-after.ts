/** The longest wait a `Retry-After` can ask for that fluxhost honours. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000

/**
 * A `Retry-After` header (seconds, decimals allowed, or an HTTP date) as milliseconds from
 * `now`, at most `maxMs`; undefined when absent or unreadable.
 */
export function parseRetryAfter(
  header: string | string[] | undefined,
  now: number,
  maxMs = MAX_RETRY_AFTER_MS,
): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim()
  if (!value) return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Math.min(maxMs, Math.round(Number(value) * 1000))
  // Otherwise only an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`), not whatever Date.parse takes.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value)) return undefined
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.min(maxMs, Math.max(0, date - now))
}
