/** Money is kept in integer millionths of a US dollar so sums never drift. */
export const MICROS_PER_USD = 1_000_000
/** BFL bills in credits: 1 credit = $0.01. */
export const MICROS_PER_CREDIT = 10_000

export function usdToMicros(usd: number): number {
  return Math.round(usd * MICROS_PER_USD)
}

/** "0.04"-style string, trailing zeros trimmed but at least two decimals. */
export function formatUsd(micros: number): string {
  const fixed = (micros / MICROS_PER_USD).toFixed(6)
  const trimmed = fixed.replace(/0+$/, '')
  const [whole, frac = ''] = trimmed.split('.')
  return `${whole}.${frac.padEnd(2, '0')}`
}

export function microsToCredits(micros: number): number {
  return micros / MICROS_PER_CREDIT
}
