import type { BlockedTerm } from '../config/blocklist.js'
import type { NsfwScores } from './classifier.js'

export { type BlockedTerm, parseBlocklist } from '../config/blocklist.js'

/**
 * Output thresholds per `safety_tolerance` (0 strictest … 6 most lenient). An image is
 * flagged when max(porn, hentai) reaches `explicit`, or `sexy` reaches `suggestive`
 * (null: suggestive images pass at that tolerance). docs/safety.md shows this table.
 */
export const OUTPUT_THRESHOLDS: readonly { explicit: number; suggestive: number | null }[] = [
  { explicit: 0.25, suggestive: 0.45 },
  { explicit: 0.45, suggestive: 0.65 },
  { explicit: 0.7, suggestive: 0.85 },
  { explicit: 0.8, suggestive: 0.95 },
  { explicit: 0.88, suggestive: null },
  { explicit: 0.93, suggestive: null },
  { explicit: 0.97, suggestive: null },
]

const clampTolerance = (tolerance: number) => Math.min(6, Math.max(0, Math.round(tolerance)))

/** Why the image is flagged at this tolerance, or undefined when it passes. */
export function judgeOutput(scores: NsfwScores, tolerance: number): string | undefined {
  const limits = OUTPUT_THRESHOLDS[clampTolerance(tolerance)]!
  const explicit = Math.max(scores.porn, scores.hentai)
  const pct = (n: number) => `${Math.round(n * 100)}%`
  const at = `safety_tolerance ${clampTolerance(tolerance)}`
  if (explicit >= limits.explicit) {
    const kind = scores.porn >= scores.hentai ? 'porn' : 'hentai'
    return `explicit content (${kind} ${pct(explicit)} ≥ ${pct(limits.explicit)} at ${at})`
  }
  if (limits.suggestive !== null && scores.sexy >= limits.suggestive) {
    return `suggestive content (sexy ${pct(scores.sexy)} ≥ ${pct(limits.suggestive)} at ${at})`
  }
  return undefined
}

/** A blocked term and the highest tolerance at which it is still blocked (6: always). */
/**
 * The built-in prompt blocklist. Stricter tolerances block more: a term is refused when the
 * request's `safety_tolerance` is at most its level. Sexual content involving minors is
 * refused at every tolerance. Replace it with `FLUXHOST_PROMPT_BLOCKLIST`.
 */
export const DEFAULT_BLOCKLIST: readonly BlockedTerm[] = [
  ...[
    'child porn',
    'cp porn',
    'underage sex',
    'underage nude',
    'loli',
    'shota',
    'pedo',
    'pedophile',
    'preteen nude',
  ].map((term) => ({ term, upTo: 6 })),
  ...[
    'porn',
    'porno',
    'pornographic',
    'hardcore',
    'sex act',
    'intercourse',
    'blowjob',
    'cumshot',
    'genitals',
    'penis',
    'vagina',
    'xxx',
  ].map((term) => ({ term, upTo: 5 })),
  ...['nude', 'nudes', 'naked', 'nsfw', 'topless', 'explicit', 'erotic', 'nipples', 'fetish'].map((term) => ({
    term,
    upTo: 3,
  })),
  ...['gore', 'gory', 'dismembered', 'decapitated', 'beheading', 'mutilated'].map((term) => ({ term, upTo: 2 })),
  ...['lingerie', 'underwear', 'bikini', 'sexy', 'seductive', 'bloody', 'corpse'].map((term) => ({ term, upTo: 0 })),
]

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Matches whole words (and phrases) only: `sextant`, `Essex` and `therapist` pass. */
export function createPromptPolicy(terms: readonly BlockedTerm[]) {
  const byLevel = Array.from({ length: 7 }, (_, tolerance) => {
    const active = terms.filter((t) => t.upTo >= tolerance).map((t) => escapeRegExp(t.term).replace(/\s+/g, '\\s+'))
    return active.length === 0
      ? undefined
      : new RegExp(`(?<![\\p{L}\\p{N}])(?:${active.join('|')})(?![\\p{L}\\p{N}])`, 'iu')
  })
  return {
    /** The blocked term the prompt contains at this tolerance, or undefined. */
    check(prompt: string, tolerance: number): string | undefined {
      const match = byLevel[clampTolerance(tolerance)]?.exec(prompt)
      return match ? match[0].toLowerCase() : undefined
    },
  }
}

export type PromptPolicy = ReturnType<typeof createPromptPolicy>
