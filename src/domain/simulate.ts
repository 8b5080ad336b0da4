import type { FieldIssue } from './errors.js'
import type { Simulation } from './job.js'

export const SIMULATE_HEADER = 'x-fluxhost-simulate'
export const MAX_SIMULATED_SLOWNESS_MS = 10 * 60 * 1000

const FAILURES = ['request_moderated', 'content_moderated', 'error'] as const

/**
 * Parses `X-Fluxhost-Simulate`: a comma-separated list of `request_moderated`,
 * `content_moderated`, `error`, `rate_limited` and `slow=<ms>`, e.g. `slow=3000,error`.
 */
export function parseSimulation(header: string): { simulation: Simulation } | { issue: FieldIssue } {
  const simulation: Simulation = {}
  const bad = (msg: string): { issue: FieldIssue } => ({
    issue: { loc: ['header', SIMULATE_HEADER], msg, type: 'value_error', input: header },
  })
  for (const raw of header.split(',')) {
    const part = raw.trim().toLowerCase()
    if (part === '') continue
    if (part === 'rate_limited') {
      simulation.rateLimited = true
    } else if (part.startsWith('slow=')) {
      const ms = Number(part.slice('slow='.length))
      if (!Number.isInteger(ms) || ms < 0 || ms > MAX_SIMULATED_SLOWNESS_MS) {
        return bad(`slow=<ms> takes a whole number of milliseconds from 0 to ${MAX_SIMULATED_SLOWNESS_MS}`)
      }
      simulation.slowMs = ms
    } else if ((FAILURES as readonly string[]).includes(part)) {
      if (simulation.fail) return bad('name at most one of request_moderated, content_moderated, error')
      simulation.fail = part as Simulation['fail']
    } else {
      return bad(
        `unknown simulation '${part.slice(0, 40)}'; ` +
          'use request_moderated, content_moderated, error, rate_limited or slow=<ms>',
      )
    }
  }
  return { simulation }
}
