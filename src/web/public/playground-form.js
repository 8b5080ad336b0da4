// The playground's form: its fields, the models it offers, and what it reads as settings
// (for the code samples) and as the body of POST /api/jobs.
import { $ } from './common.js'

export const form = $('#generate')
export const fields = {
  prompt: $('#prompt'),
  model: $('#model'),
  numImages: $('#num-images'),
  width: $('#width'),
  height: $('#height'),
  aspectRatio: $('#aspect-ratio'),
  raw: $('#raw'),
  steps: $('#steps'),
  guidance: $('#guidance'),
  seed: $('#seed'),
  seedLock: $('#seed-lock'),
  format: $('#format'),
  quality: $('#quality'),
  safety: $('#safety'),
  imagePrompt: $('#image-prompt'),
  strength: $('#strength'),
}

// Used until /api/models answers (and when no key is set yet).
let models = [
  {
    id: 'flux-pro-1.1',
    name: 'FLUX 1.1 [pro]',
    minSize: 256,
    maxSize: 1440,
    sizeMultiple: 32,
    defaultWidth: 1024,
    defaultHeight: 768,
    priceUsd: 0.04,
  },
  { id: 'flux-pro-1.1-ultra', name: 'FLUX 1.1 [pro] Ultra', priceUsd: 0.06 },
  {
    id: 'flux-dev',
    name: 'FLUX.1 [dev]',
    minSize: 256,
    maxSize: 1440,
    sizeMultiple: 32,
    defaultWidth: 1024,
    defaultHeight: 768,
    priceUsd: 0.025,
    steps: { min: 1, max: 50, default: 28 },
    guidance: { min: 1.5, max: 5, default: 3 },
  },
]

export const allModels = () => models
export function setModels(list) {
  models = list
}
export const model = () => models.find((m) => m.id === fields.model.value) ?? models[0]

// What runs when code changes the settings (the code sample follows them); set by app.js.
let changed = () => undefined
export function onSettingsChange(listener) {
  changed = listener
}
export const settingsChanged = () => changed()

/** A size field's value: the model's default when empty (never 0), else the number typed. */
const size = (input, fallback) => (input.value.trim() === '' ? (fallback ?? 1024) : Number(input.value))

/**
 * Snaps a size field to the model's grid (a multiple of 32 within its limits) once a value is
 * typed: what the API would refuse is corrected in front of the user, not after a round trip.
 */
export function snapSize(input) {
  const m = model()
  if (!m.sizeMultiple || input.value.trim() === '' || !Number.isFinite(Number(input.value))) return
  const snapped = Math.round(Number(input.value) / m.sizeMultiple) * m.sizeMultiple
  input.value = String(Math.min(m.maxSize, Math.max(m.minSize, snapped)))
}

/** The form as the playground's settings (also what the code snippets are made from). */
export function settings() {
  const seed = fields.seed.value.trim()
  const sampling = (input) => (model().steps && input.value.trim() !== '' ? Number(input.value) : null)
  return {
    model: fields.model.value,
    prompt: fields.prompt.value,
    width: size(fields.width, model().defaultWidth),
    height: size(fields.height, model().defaultHeight),
    aspectRatio: fields.aspectRatio.value,
    raw: fields.raw.checked,
    steps: sampling(fields.steps),
    guidance: sampling(fields.guidance),
    seed: seed === '' ? null : Number(seed),
    outputFormat: fields.format.value,
    quality: Number(fields.quality.value),
    numImages: Number(fields.numImages.value),
    safetyTolerance: Number(fields.safety.value),
    imagePrompt: fields.imagePrompt.files?.[0]
      ? { file: fields.imagePrompt.files[0], strength: Number(fields.strength.value) }
      : null,
  }
}

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => resolve(String(reader.result))
    reader.onerror = () => reject(reader.error)
    reader.readAsDataURL(file)
  })
}

export async function requestBody(s) {
  const body = {
    model: s.model,
    prompt: s.prompt,
    numImages: s.numImages,
    outputFormat: s.outputFormat,
    outputQuality: s.quality,
    safetyTolerance: s.safetyTolerance,
    seed: s.seed,
  }
  if (s.model === 'flux-pro-1.1-ultra') Object.assign(body, { aspectRatio: s.aspectRatio, raw: s.raw })
  else Object.assign(body, { width: s.width, height: s.height })
  if (s.steps !== null) body.steps = s.steps
  if (s.guidance !== null) body.guidance = s.guidance
  if (s.imagePrompt)
    body.imagePrompt = { data: await readAsDataUrl(s.imagePrompt.file), strength: s.imagePrompt.strength }
  return body
}

export function syncOutputs() {
  $('#quality-out').textContent = fields.quality.value
  $('#safety-out').textContent = fields.safety.value
  $('#strength-out').textContent = fields.strength.value
  fields.quality.disabled = fields.format.value === 'png'
}
