/** A blocked word or phrase, and the highest `safety_tolerance` at which it is blocked. */
export interface BlockedTerm {
  term: string
  upTo: number
}

/**
 * The text of a blocklist file: one term per line, optionally `= <tolerance>` (blocked at
 * that tolerance and stricter; default all), `#` comments. Throws naming the bad line.
 */
export function parseBlocklist(text: string): BlockedTerm[] {
  const terms: BlockedTerm[] = []
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') continue
    const [term, level, ...rest] = line.split('=').map((part) => part.trim())
    const upTo = level === undefined ? 6 : Number(level)
    if (!term || rest.length > 0 || !Number.isInteger(upTo) || upTo < 0 || upTo > 6) {
      throw new Error(`line ${index + 1}: expected 'term' or 'term = 0..6', got '${raw.trim()}'`)
    }
    terms.push({ term: term.toLowerCase(), upTo })
  }
  return terms
}
