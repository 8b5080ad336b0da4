/**
 * Limits on the shape of a JSON body, checked before it is parsed: no fluxhost body is
 * deeper than a few levels or holds more than a few dozen values, and a body built to be
 * deep (a stack overflow in any recursive walk) or wide (millions of keys for the parser,
 * the validator and its error list to chew on) is refused in one linear pass that builds
 * nothing.
 */
export const JSON_LIMITS = { depth: 32, values: 10_000 } as const

/** Bodies of routes that take no inline (base64) image. */
export const SMALL_BODY_LIMIT = 256 * 1024

export type JsonLimitBreach = { limit: 'depth' | 'values'; at: number }

/**
 * The first limit `text` breaks, or undefined. Counts containers and commas outside
 * strings (n values in a container have n−1 commas); strings are skipped with `indexOf`,
 * so a 30 MB base64 string costs one native search. Malformed text is left to the parser.
 */
export function breachOf(text: string, limits: { depth: number; values: number } = JSON_LIMITS) {
  let depth = 0
  let values = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      const end = closingQuote(text, i)
      if (end === -1) return undefined
      i = end
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.depth) return { limit: 'depth', at: i } satisfies JsonLimitBreach
      if (++values > limits.values) return { limit: 'values', at: i } satisfies JsonLimitBreach
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    } else if (c === 0x2c) {
      if (++values > limits.values) return { limit: 'values', at: i } satisfies JsonLimitBreach
    }
  }
  return undefined
}

/** The index of the quote that closes the string opened at `open`, or -1. */
function closingQuote(text: string, open: number): number {
  let at = open
  for (;;) {
    at = text.indexOf('"', at + 1)
    if (at === -1) return -1
    let backslashes = 0
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++
    if (backslashes % 2 === 0) return at
  }
}
