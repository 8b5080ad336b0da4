// The settings every dialect shares: the checks that hold on every path (a value the server
// refuses everywhere is left out or cut, with a reason), and the constants the bodies use.

export const MODELS = {
  'flux-pro-1.1': 'FLUX 1.1 [pro]',
  'flux-pro-1.1-ultra': 'FLUX 1.1 [pro] ultra',
  'flux-dev': 'FLUX.1 [dev]',
}

/** The quality every dialect but Apiframe writes JPEG and WebP at (they take no quality field). */
export const FIXED_QUALITY = 90
/** The image-prompt strength BFL's pro-1.1 and dev (and the SeaArt queue) apply; they take none. */
export const FIXED_STRENGTH = 0.5
const MAX_PROMPT = 10000
/** A FLUX 1.1 [pro] (and [dev]) side: 256–1440 px, a multiple of 32. */
const isSide = (value) => Number.isInteger(value) && value >= 256 && value <= 1440 && value % 32 === 0

/** Stands for the base64 of the downloaded image prompt in a body; each language names it. */
export const IMAGE_PROMPT = { imagePrompt: 'downloaded and base64-encoded by the snippet' }

/**
 * The settings every dialect must agree on before it can say anything: a value the server
 * refuses on every path is left out (or cut, for the prompt) and reported.
 */
export function common(settings) {
  const reasons = []
  const model = Object.hasOwn(MODELS, settings.model) ? settings.model : 'flux-pro-1.1'
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
  const seed =
    settings.seed === null || settings.seed === undefined
      ? null
      : Number.isSafeInteger(settings.seed)
        ? settings.seed
        : null
  if (seed === null && settings.seed !== null && settings.seed !== undefined)
    reasons.push('the seed must be an integer; left out')
  const format = ['jpeg', 'png', 'webp'].includes(settings.outputFormat) ? settings.outputFormat : 'jpeg'
  if (format !== settings.outputFormat) reasons.push('the output format must be jpeg, png or webp; jpeg is used')
  const quality =
    Number.isInteger(settings.quality) && settings.quality >= 0 && settings.quality <= 100
      ? settings.quality
      : FIXED_QUALITY
  const numImages =
    Number.isInteger(settings.numImages) && settings.numImages >= 1 && settings.numImages <= 4 ? settings.numImages : 1
  if (numImages !== settings.numImages) reasons.push('the number of images must be 1–4; 1 is used')
  const tolerance =
    Number.isInteger(settings.safetyTolerance) && settings.safetyTolerance >= 0 && settings.safetyTolerance <= 6
      ? settings.safetyTolerance
      : null
  if (tolerance === null) reasons.push('the safety tolerance must be 0–6; left out')
  const ratio = /^(\d{1,3}):(\d{1,3})$/.exec(String(settings.aspectRatio ?? ''))
  const ratioOk =
    ratio !== null &&
    +ratio[1] > 0 &&
    +ratio[2] > 0 &&
    +ratio[1] / +ratio[2] <= 21 / 9 + 1e-9 &&
    +ratio[2] / +ratio[1] <= 21 / 9 + 1e-9
  if (model === 'flux-pro-1.1-ultra' && !ratioOk)
    reasons.push('the aspect ratio must be W:H between 21:9 and 9:21; 16:9 is used')
  // flux-dev's sampling (null = the model's default): steps 1–50, guidance 1.5–5.
  const dev = model === 'flux-dev'
  const given = (value) => value !== null && value !== undefined
  const steps =
    dev && Number.isInteger(settings.steps) && settings.steps >= 1 && settings.steps <= 50 ? settings.steps : null
  if (dev && given(settings.steps) && steps === null) reasons.push('steps must be an integer 1–50; left out')
  const guidance =
    dev && typeof settings.guidance === 'number' && settings.guidance >= 1.5 && settings.guidance <= 5
      ? settings.guidance
      : null
  if (dev && given(settings.guidance) && guidance === null) reasons.push('guidance must be 1.5–5; left out')
  let imagePrompt = null
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
    steps,
    guidance,
    imagePrompt,
  }
}
