export type Rgb = readonly [number, number, number]

/** Colour words (and a few scene words) a prompt can use to steer the preview's palette. */
export const COLOUR_WORDS: Readonly<Record<string, readonly Rgb[]>> = {
  red: [[214, 40, 40]],
  crimson: [[170, 20, 50]],
  scarlet: [[235, 45, 30]],
  orange: [[245, 140, 30]],
  amber: [[255, 175, 0]],
  gold: [[222, 178, 48]],
  golden: [[232, 185, 60]],
  yellow: [[245, 218, 50]],
  lime: [[160, 220, 60]],
  green: [[50, 160, 70]],
  emerald: [[20, 140, 95]],
  olive: [[110, 120, 40]],
  teal: [[20, 140, 140]],
  cyan: [[40, 200, 215]],
  turquoise: [[50, 210, 190]],
  blue: [[40, 90, 220]],
  azure: [[60, 150, 240]],
  navy: [[20, 30, 100]],
  indigo: [[75, 20, 140]],
  purple: [[130, 55, 190]],
  violet: [[150, 80, 220]],
  magenta: [[220, 40, 170]],
  pink: [[245, 120, 175]],
  brown: [[125, 80, 45]],
  beige: [[225, 205, 170]],
  white: [[245, 245, 240]],
  silver: [[190, 195, 205]],
  grey: [[128, 128, 132]],
  gray: [[128, 128, 132]],
  black: [[18, 18, 24]],
  sunset: [
    [250, 130, 60],
    [230, 80, 120],
    [90, 50, 140],
  ],
  ocean: [
    [20, 90, 160],
    [30, 160, 180],
  ],
  sea: [
    [25, 100, 170],
    [60, 170, 190],
  ],
  forest: [
    [30, 90, 40],
    [80, 140, 60],
  ],
  fire: [
    [230, 60, 20],
    [250, 170, 30],
  ],
  snow: [
    [240, 245, 255],
    [190, 210, 235],
  ],
  night: [
    [15, 20, 60],
    [40, 40, 90],
  ],
  neon: [
    [255, 40, 200],
    [40, 240, 255],
  ],
}

/** The colours named in a prompt, in the order they appear (at most 6). */
export function coloursInPrompt(prompt: string): Rgb[] {
  const colours: Rgb[] = []
  for (const word of prompt.toLowerCase().match(/[a-z]+/g) ?? []) {
    const found = COLOUR_WORDS[word]
    if (found) colours.push(...found)
    if (colours.length >= 6) break
  }
  return colours.slice(0, 6)
}

function hslToRgb(h: number, s: number, l: number): Rgb {
  const k = (n: number) => (n + h / 30) % 12
  const a = s * Math.min(l, 1 - l)
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)))
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)]
}

/**
 * The palette for a prompt: its colour words when it has any, else four harmonious
 * colours whose base hue comes from the prompt's hash, so every prompt looks different.
 */
export function paletteFor(prompt: string, promptHash: number): Rgb[] {
  const named = coloursInPrompt(prompt)
  if (named.length >= 2) return named
  const hue = promptHash % 360
  const derived = [
    hslToRgb(hue, 0.65, 0.45),
    hslToRgb((hue + 35) % 360, 0.7, 0.6),
    hslToRgb((hue + 180) % 360, 0.55, 0.5),
    hslToRgb((hue + 210) % 360, 0.6, 0.7),
  ]
  if (named.length === 1) return [named[0]!, ...derived.slice(1)]
  return derived
}
