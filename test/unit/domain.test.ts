import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { backoffDelay, createBackoff } from '../../src/domain/backoff.js'
import { ERRORS } from '../../src/domain/errors.js'
import type { GenerationRequest } from '../../src/domain/job.js'
import { canCancel, isTerminal, JOB_STATES } from '../../src/domain/job.js'
import { formatUsd, microsToCredits, usdToMicros } from '../../src/domain/money.js'
import { parseSimulation } from '../../src/domain/simulate.js'
import { checkRequest, MAX_PROMPT_LENGTH } from '../../src/domain/validate.js'

const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  model: 'flux-pro-1.1',
  prompt: 'a cat',
  width: 1024,
  height: 768,
  seed: 1,
  numImages: 1,
  promptUpsampling: false,
  raw: false,
  safetyTolerance: 2,
  safetyChecker: true,
  output: { format: 'jpeg', quality: 90 },
  ...overrides,
})

describe('job states', () => {
  it('knows which states are terminal and cancelable', () => {
    expect(JOB_STATES.filter(isTerminal)).toEqual(['succeeded', 'failed', 'canceled'])
    expect(JOB_STATES.filter(canCancel)).toEqual(['queued', 'running'])
  })
})

describe('money', () => {
  it('keeps cents exact and renders BFL credits', () => {
    expect(usdToMicros(0.04)).toBe(40_000)
    expect(usdToMicros(0.1) * 3).toBe(300_000)
    expect(formatUsd(40_000)).toBe('0.04')
    expect(formatUsd(160_000)).toBe('0.16')
    expect(formatUsd(1_234_500)).toBe('1.2345')
    expect(formatUsd(0)).toBe('0.00')
    expect(microsToCredits(40_000)).toBe(4)
  })
})

describe('checkRequest', () => {
  it('accepts the defaults', () => {
    expect(checkRequest(request())).toEqual([])
  })

  it('names each size problem with FastAPI-style types', () => {
    const issues = checkRequest(request({ width: 1000, height: 2048 }))
    expect(issues.map((i) => [i.loc.join('.'), i.type])).toEqual([
      ['body.width', 'multiple_of'],
      ['body.height', 'less_than_equal'],
    ])
    expect(checkRequest(request({ width: 224 }))[0]).toMatchObject({ type: 'greater_than_equal', ctx: { ge: 256 } })
  })

  it('limits prompt length, image count and seeds', () => {
    expect(checkRequest(request({ prompt: 'x'.repeat(MAX_PROMPT_LENGTH + 1) }))[0]?.type).toBe('string_too_long')
    expect(checkRequest(request({ numImages: 5 }))[0]?.loc).toEqual(['body', 'numImages'])
    expect(checkRequest(request({ seed: 2 ** 60 }))[0]?.loc).toEqual(['body', 'seed'])
  })
})

describe('parseSimulation', () => {
  it('parses every mode and combinations', () => {
    expect(parseSimulation('request_moderated')).toEqual({ simulation: { fail: 'request_moderated' } })
    expect(parseSimulation('slow=1500, content_moderated')).toEqual({
      simulation: { slowMs: 1500, fail: 'content_moderated' },
    })
    expect(parseSimulation('RATE_LIMITED')).toEqual({ simulation: { rateLimited: true } })
  })

  it('rejects nonsense with the header as the location', () => {
    for (const bad of ['explode', 'slow=abc', 'slow=-1', 'error,content_moderated']) {
      const parsed = parseSimulation(bad)
      expect('issue' in parsed && parsed.issue.loc).toEqual(['header', 'x-fluxhost-simulate'])
    }
  })
})

describe('error registry', () => {
  it('has a 4xx/5xx status for every code, and docs/errors.md lists exactly these codes', () => {
    const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    const documented = new Set([...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]))
    for (const [code, entry] of Object.entries(ERRORS)) {
      expect(entry.status, code).toBeGreaterThanOrEqual(400)
      expect(documented.has(code), `${code} missing from docs/errors.md`).toBe(true)
    }
    expect([...documented].filter((code) => !(code! in ERRORS))).toEqual([])
  })
})

describe('backoff', () => {
  it('grows by its factor up to its cap, and starts over on reset', () => {
    const backoff = createBackoff({ initialMs: 250, factor: 2, maxMs: 1_500 })
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.peek()]).toEqual([
      250, 500, 1000, 1500, 1500,
    ])
    backoff.reset()
    expect(backoff.next()).toBe(250)
    expect(backoffDelay(3, { initialMs: 1_000, factor: 1.5, maxMs: 60_000 })).toBe(3375)
  })
})
