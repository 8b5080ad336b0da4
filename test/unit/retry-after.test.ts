import { describe, expect, it } from 'vitest'
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from '../../src/net/retry-after.js'

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-23T12:00:00Z')
  it('reads seconds (with decimals) and HTTP dates, capped', () => {
    expect(parseRetryAfter('2', now)).toBe(2000)
    expect(parseRetryAfter(' 0.5 ', now)).toBe(500)
    expect(parseRetryAfter(['3', '9'], now)).toBe(3000)
    expect(parseRetryAfter('Mon, 23 Nov 2026 12:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Mon, 23 Nov 2026 11:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('999999', now)).toBe(MAX_RETRY_AFTER_MS)
    expect(parseRetryAfter('10', now, 5000)).toBe(5000)
  })
  it('ignores what it cannot read', () => {
    for (const bad of [undefined, '', 'soon', '-5', '1e3'])
      expect(parseRetryAfter(bad, now), String(bad)).toBeUndefined()
  })
})
