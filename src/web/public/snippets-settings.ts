// The settings every dialect shares: their types, the checks that hold on every path (a value
// the server refuses everywhere is left out or cut, with a reason), and the constants the bodies use.

export const MODELS = {
  'flux-pro-1.1': 'FLUX 1.1 [pro]',
  'flux-pro-1.1-ultra': 'FLUX 1.1 [pro] ultra',
  'flux-dev': 'FLUX.1 [dev]',
} as const
export type ModelId = keyof typeof MODELS

/** The APIs fluxhost speaks that the snippets are written for. */
export type Dialect = 'bfl' | 'seaart' | 'apiframe' | 'aiml'

/**
 * What the playground's form gives the snippets. The values are checked here, not trusted
 * (a field can hold anything while the user types), hence plain strings and numbers.
 */
export interface Settings {
  model: string
  prompt: string
  width: number
  height: number
  /** W:H, for FLUX 1.1 [pro] ultra. */
  aspectRatio: string
  seed: number | null
  outputFormat: string
  /** JPEG and WebP quality, 0–100. */
  quality: number
  numImages: number
  safetyTolerance: number
  /** Ask the server to rewrite the prompt for more creative results. */
  promptUpsampling: boolean
  /** flux-dev's sampling; null or absent: the model's default. */
  steps?: number | null
  guidance?: number | null
  /** An http(s) URL the snippet downloads (or the server fetches), or a data:image URL. */
  imagePrompt: { url: string; strength: number } | null
}

/** A checked image prompt; `inline` when it is a data: URL (nothing to download). */
export interface ImagePrompt {
  url: string
  strength: number
  inline: boolean
}

/** The settings as every dialect can take them, and the reasons for what was changed. */
export interface Common {
  reasons: string[]
  model: ModelId
  prompt: string
  size: { width: number; height: number } | null
  aspectRatio: string
  seed: number | null
  format: 'jpeg' | 'png' | 'webp'
  quality: number
  numImages: number
  tolerance: number | null
  promptUpsampling: boolean
  steps: number | null
  guidance: number | null
  imagePrompt: ImagePrompt | null
}

/** The quality every dialect but Apiframe writes JPEG and WebP at (they take no quality field). */
export const FIXED_QUALITY = 90
/** The image-prompt strength BFL's pro-1.1 and dev (and the SeaArt queue) apply; they take none. */
export const FIXED_STRENGTH = 0.5
const MAX_PROMPT = 10000
const FORMATS = ['jpeg', 'png', 'webp'] as const
/** A FLUX 1.1 [pro] (and [dev]) side: 256–1440 px, a multiple of 32. */
const isSide = (value: unknown): value is number =>
  Number.isInteger(value) && (value as number) >= 256 && (value as number) <= 1440 && (value as number) % 32 === 0
const isModel = (value: string): value is ModelId => Object.hasOwn(MODELS, value)
const isFormat = (value: string): value is Common['format'] => (FORMATS as readonly string[]).includes(value)
const given = (value: unknown): boolean => value !== null && value !== undefined

/** Stands for the base64 of the downloaded image prompt in a body; each language names it. */
export const IMAGE_PROMPT: unique symbol = Symbol('image prompt, downloaded and base64-encoded by the snippet')

/** A request body as the snippets write it: JSON, with IMAGE_PROMPT where the image goes. */
export type BodyValue = string | number | boolean | null | typeof IMAGE_PROMPT | Body
export interface Body {
  [name: string]: BodyValue
}

/** An integer in [min, max], else null. */
function integerIn(value: unknown, min: number, max: number): number | null {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= max ? (value as number) : null
}

/** W:H between 21:9 and 9:21. */
function isAspectRatio(value: string): boolean {
  const ratio = /^(\d{1,3}):(\d{1,3})$/.exec(value)
  if (!ratio) return false
  const [w, h] = [Number(ratio[1]), Number(ratio[2])]
  return w > 0 && h > 0 && w / h <= 21 / 9 + 1e-9 && h / w <= 21 / 9 + 1e-9
}

/**
 * The settings every dialect must agree on before it can say anything: a value the server
 * refuses on every path is left out (or cut, for the prompt) and reported.
 */
export function common(settings: Settings): Common {
  const reasons: string[] = []
  const model = isModel(settings.model) ? settings.model : 'flux-pro-1.1'
  if (model !== settings.model) reasons.push('unknown model; FLUX 1.1 [pro] is used')
  let prompt = typeof settings.prompt === 'string' ? settings.prompt : ''
  if (Array.from(prompt).length > MAX_PROMPT) {
    prompt = Array.from(prompt).slice(0, MAX_PROMPT).join('')
    reasons.push(`the prompt is cut to ${MAX_PROMPT} characters`)
  }
  const size =
    isSide(settings.width) && isSide(settings.height) ? { width: settings.width, height: settings.height } : null
  if (!size && model !== 'flux-pro-1.1-ultra')
    reasons.push('width and height must be 256–1440 and multiples of 32; left out')
  const seed = given(settings.seed) && Number.isSafeInteger(settings.seed) ? settings.seed : null
  if (seed === null && given(settings.seed)) reasons.push('the seed must be an integer; left out')
  const format = isFormat(settings.outputFormat) ? settings.outputFormat : 'jpeg'
  if (format !== settings.outputFormat) reasons.push('the output format must be jpeg, png or webp; jpeg is used')
  const quality = integerIn(settings.quality, 0, 100) ?? FIXED_QUALITY
  const numImages = integerIn(settings.numImages, 1, 4) ?? 1
  if (numImages !== settings.numImages) reasons.push('the number of images must be 1–4; 1 is used')
  const tolerance = integerIn(settings.safetyTolerance, 0, 6)
  if (tolerance === null) reasons.push('the safety tolerance must be 0–6; left out')
  const ratioOk = isAspectRatio(String(settings.aspectRatio ?? ''))
  if (model === 'flux-pro-1.1-ultra' && !ratioOk)
    reasons.push('the aspect ratio must be W:H between 21:9 and 9:21; 16:9 is used')
  // flux-dev's sampling (null = the model's default): steps 1–50, guidance 1.5–5.
  const dev = model === 'flux-dev'
  const steps = dev ? integerIn(settings.steps, 1, 50) : null
  if (dev && given(settings.steps) && steps === null) reasons.push('steps must be an integer 1–50; left out')
  const guidance =
    dev && typeof settings.guidance === 'number' && settings.guidance >= 1.5 && settings.guidance <= 5
      ? settings.guidance
      : null
  if (dev && given(settings.guidance) && guidance === null) reasons.push('guidance must be 1.5–5; left out')
  let imagePrompt: ImagePrompt | null = null
  if (settings.imagePrompt) {
    const { url, strength } = settings.imagePrompt
    if (typeof url !== 'string' || !/^(https?:\/\/|data:image\/[\w.+-]+;base64,)/i.test(url))
      reasons.push('the image prompt must be an http(s) or data:image URL; left out')
    else if (typeof strength !== 'number' || !(strength >= 0 && strength <= 1))
      reasons.push('the image prompt strength must be 0–1; left out')
    else imagePrompt = { url, strength, inline: url.toLowerCase().startsWith('data:') }
  }
  return {
    reasons,
    model,
    prompt,
    size,
    aspectRatio: ratioOk ? settings.aspectRatio : '16:9',
    seed,
    format,
    quality,
    numImages,
    tolerance,
    // Only a real true: a missing field (an older caller) means no upsampling, as on the server.
    promptUpsampling: settings.promptUpsampling === true,
    steps,
    guidance,
    imagePrompt,
  }
}
