// The request each dialect makes of the settings, following the request schemas under
// src/api/dialects/: what it cannot express is left out of its body, with the reason.
import {
  type Body,
  common,
  type Dialect,
  FIXED_QUALITY,
  FIXED_STRENGTH,
  IMAGE_PROMPT,
  type ImagePrompt,
  MODELS,
  type ModelId,
  type Settings,
} from './snippets-settings.js'

/** What a dialect asks of the server: one POST to `path` with `body`. */
export interface Plan {
  /** The model the request asks for (the gateways' FLUX 1.1 [pro] included: they serve no other). */
  model: ModelId
  path: string
  /** The JSON body, with IMAGE_PROMPT where the snippet puts the image it downloaded. */
  body: Body
  /** What the dialect cannot express (left out or changed); empty when it says everything. */
  reasons: string[]
  /** The image the snippet itself downloads and encodes (not inline); null when it sends none. */
  imagePrompt: ImagePrompt | null
}

/** How a reason names each dialect. */
const NAMES: Record<Dialect, string> = {
  bfl: "BFL's API",
  seaart: 'The SeaArt queue',
  apiframe: 'Apiframe',
  aiml: 'AIML',
}

const AIML_MAX_PROMPT = 4000

/**
 * The request a dialect makes of the settings: its path, its body (with IMAGE_PROMPT where
 * the snippet downloads and encodes an image first) and the reasons it falls short.
 */
export function plan(settings: Settings, dialect: Dialect): Plan {
  const s = common(settings)
  const reasons = [...s.reasons]
  const name = NAMES[dialect]
  const fixedQuality = (format: string) => {
    if (format !== 'png' && s.quality !== FIXED_QUALITY)
      reasons.push(`${name} writes JPEG and WebP at quality ${FIXED_QUALITY} (no quality field)`)
  }
  const oneImage = (what: string) => {
    if (s.numImages > 1) reasons.push(`${name} makes one image per ${what} (no num_images)`)
  }
  const proOnly = () => {
    if (s.model !== 'flux-pro-1.1') reasons.push(`${name} serves FLUX 1.1 [pro] only, not ${MODELS[s.model]}`)
  }
  const needsPrompt = () => {
    if (s.prompt === '') reasons.push(`${name} needs a prompt`)
  }
  /** Base64 bodies (BFL, SeaArt): a data: URL goes in as it is, any other is downloaded. */
  const base64Image = (image: ImagePrompt) => (image.inline ? image.url : IMAGE_PROMPT)

  if (dialect === 'bfl') {
    const ultra = s.model === 'flux-pro-1.1-ultra'
    const body: Body = { prompt: s.prompt }
    if (ultra) body.aspect_ratio = s.aspectRatio
    else if (s.size) Object.assign(body, s.size)
    // All three of BFL's bodies take it (the ultra one too).
    if (s.promptUpsampling) body.prompt_upsampling = true
    if (s.seed !== null) body.seed = s.seed
    if (s.tolerance !== null) body.safety_tolerance = s.tolerance
    if (s.steps !== null) body.steps = s.steps
    if (s.guidance !== null) body.guidance = s.guidance
    body.output_format = s.format
    if (s.imagePrompt) {
      body.image_prompt = base64Image(s.imagePrompt)
      if (ultra) body.image_prompt_strength = s.imagePrompt.strength
      else if (Math.abs(s.imagePrompt.strength - FIXED_STRENGTH) > 1e-9) {
        reasons.push(`${name} takes no image_prompt_strength for ${MODELS[s.model]} (it applies ${FIXED_STRENGTH})`)
      }
    }
    oneImage('request')
    fixedQuality(s.format)
    return { model: s.model, path: `/v1/${s.model}`, body, reasons, imagePrompt: s.imagePrompt }
  }

  if (dialect === 'seaart') {
    proOnly()
    needsPrompt()
    const body: Body = { prompt: s.prompt }
    if (s.size) Object.assign(body, s.size)
    if (s.promptUpsampling) body.prompt_upsampling = true
    if (s.seed !== null) body.seed = s.seed
    if (s.tolerance !== null) body.safety_tolerance = s.tolerance
    const format = s.format === 'webp' ? 'jpeg' : s.format
    if (s.format === 'webp') reasons.push(`${name}'s output_format is jpeg or png (no webp)`)
    body.output_format = format
    if (s.imagePrompt) {
      body.image_prompt = base64Image(s.imagePrompt)
      if (Math.abs(s.imagePrompt.strength - FIXED_STRENGTH) > 1e-9)
        reasons.push(`${name} takes no image_prompt_strength (it applies ${FIXED_STRENGTH})`)
    }
    oneImage('task')
    fixedQuality(format)
    return { model: 'flux-pro-1.1', path: '/v1/queue/flux_pro_11', body, reasons, imagePrompt: s.imagePrompt }
  }

  if (dialect === 'apiframe') {
    proOnly()
    needsPrompt()
    const params: Body = {}
    if (s.size) Object.assign(params, { aspect_ratio: 'custom', ...s.size })
    params.output_format = s.format === 'jpeg' ? 'jpg' : s.format
    if (s.format !== 'png') params.output_quality = s.quality
    if (s.seed !== null) params.seed = s.seed
    if (s.promptUpsampling) params.prompt_upsampling = true
    if (s.imagePrompt) {
      if (s.imagePrompt.inline)
        reasons.push(`${name}'s image_prompt is an http(s) URL the server fetches, not a data: URL`)
      else {
        // The schema takes multiples of 0.05.
        const strength = Math.round(s.imagePrompt.strength * 20) / 20
        params.image_prompt = s.imagePrompt.url
        params.image_prompt_strength = strength
        if (Math.abs(strength - s.imagePrompt.strength) > 1e-9)
          reasons.push(`${name}'s image_prompt_strength is a multiple of 0.05 (${strength} is sent)`)
      }
    }
    if (s.tolerance !== null && s.tolerance !== 2) reasons.push(`${name} takes no safety_tolerance (it moderates at 2)`)
    oneImage('job')
    return {
      model: 'flux-pro-1.1',
      path: '/v2/images/generate',
      body: { prompt: s.prompt, model: 'flux-1.1-pro', fluxParams: params },
      reasons,
      imagePrompt: null,
    }
  }

  // A caller from plain JavaScript (or a page's select) could pass anything.
  if (dialect !== 'aiml') throw new Error(`unknown dialect: ${String(dialect)}`)
  proOnly()
  needsPrompt()
  let prompt = s.prompt
  if (Array.from(prompt).length > AIML_MAX_PROMPT) {
    prompt = Array.from(prompt).slice(0, AIML_MAX_PROMPT).join('')
    reasons.push(`${name}'s prompt is at most ${AIML_MAX_PROMPT} characters; it is cut`)
  }
  const body: Body = { model: 'flux-pro/v1.1', prompt }
  if (s.size) body.image_size = { ...s.size }
  body.num_images = s.numImages
  if (s.seed !== null && s.seed >= 1) body.seed = s.seed
  else if (s.seed !== null) reasons.push(`${name}'s seed is 1 or more`)
  if (s.tolerance !== null && s.tolerance >= 1) body.safety_tolerance = String(s.tolerance)
  else if (s.tolerance !== null) reasons.push(`${name}'s safety_tolerance is 1–6 (no 0)`)
  const format = s.format === 'webp' ? 'jpeg' : s.format
  if (s.format === 'webp') reasons.push(`${name}'s output_format is jpeg or png (no webp)`)
  body.output_format = format
  fixedQuality(format)
  if (s.promptUpsampling) reasons.push(`${name} takes no prompt_upsampling`)
  if (s.imagePrompt) reasons.push(`${name}'s flux-pro/v1.1 takes no image prompt`)
  return { model: 'flux-pro-1.1', path: '/v1/images/generations', body, reasons, imagePrompt: null }
}
