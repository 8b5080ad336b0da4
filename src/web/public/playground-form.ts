// The playground's form: its fields, the models it offers, and what it reads as settings
// (for the code samples) and as the body of POST /api/jobs.
import { $ } from './common.js'
import type { PageModel, Settings } from './playground-types.js'

export type { Settings } from './playground-types.js'

export const form = $<HTMLFormElement>('#generate')
export const fields = {
  prompt: $<HTMLTextAreaElement>('#prompt'),
  model: $<HTMLSelectElement>('#model'),
  numImages: $<HTMLSelectElement>('#num-images'),
  width: $<HTMLInputElement>('#width'),
  height: $<HTMLInputElement>('#height'),
  aspectRatio: $<HTMLSelectElement>('#aspect-ratio'),
  raw: $<HTMLInputElement>('#raw'),
  steps: $<HTMLInputElement>('#steps'),
  guidance: $<HTMLInputElement>('#guidance'),
  seed: $<HTMLInputElement>('#seed'),
  seedLock: $<HTMLInputElement>('#seed-lock'),
  format: $<HTMLSelectElement>('#format'),
  quality: $<HTMLInputElement>('#quality'),
  safety: $<HTMLInputElement>('#safety'),
  promptUpsampling: $<HTMLInputElement>('#prompt-upsampling'),
  imagePrompt: $<HTMLInputElement>('#image-prompt'),
  strength: $<HTMLInputElement>('#strength'),
}

// Used until /api/models answers (and when no key is set yet).
const FIRST_MODELS: readonly PageModel[] = [
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
let models: readonly PageModel[] = FIRST_MODELS

export const allModels = (): readonly PageModel[] => models
export function setModels(list: readonly PageModel[]): void {
  if (list.length > 0) models = list
}
export const model = (): PageModel => models.find((m) => m.id === fields.model.value) ?? models[0] ?? FIRST_MODELS[0]!

// What runs when code changes the settings (the code sample follows them); set by app.ts.
let changed: () => void = () => undefined
export function onSettingsChange(listener: () => void): void {
  changed = listener
}
export const settingsChanged = (): void => changed()

/**
 * The size a field's text makes, as it will be sent: the model's default when empty or not a
 * number (never 0), else the number on the model's grid (a multiple of 32 within its limits).
 */
export function sizeOf(text: string, fallback: number | undefined): number {
  const typed = text.trim() === '' ? Number.NaN : Number(text)
  if (!Number.isFinite(typed)) return fallback ?? 1024
  const m = model()
  if (!m.sizeMultiple) return typed
  const snapped = Math.round(typed / m.sizeMultiple) * m.sizeMultiple
  return Math.min(m.maxSize ?? snapped, Math.max(m.minSize ?? m.sizeMultiple, snapped))
}

const width = () => sizeOf(fields.width.value, model().defaultWidth)
const height = () => sizeOf(fields.height.value, model().defaultHeight)

/**
 * Snaps a size field to the model's grid once the value is left (on change): what the API would
 * refuse is corrected in front of the user, not after a round trip. An empty field stays empty
 * (the model's default is sent).
 */
export function snapSize(input: HTMLInputElement): void {
  if (input.value.trim() === '' || !Number.isFinite(Number(input.value))) return
  input.value = String(sizeOf(input.value, undefined))
}

/** The form as the playground's settings (also what the code snippets are made from). */
export function settings(): Settings {
  const seed = fields.seed.value.trim()
  const sampling = (input: HTMLInputElement) =>
    model().steps && input.value.trim() !== '' ? Number(input.value) : null
  const file = fields.imagePrompt.files?.[0]
  return {
    model: fields.model.value,
    prompt: fields.prompt.value,
    width: width(),
    height: height(),
    aspectRatio: fields.aspectRatio.value,
    raw: fields.raw.checked,
    steps: sampling(fields.steps),
    guidance: sampling(fields.guidance),
    seed: seed === '' ? null : Number(seed),
    outputFormat: fields.format.value,
    quality: Number(fields.quality.value),
    numImages: Number(fields.numImages.value),
    safetyTolerance: Number(fields.safety.value),
    promptUpsampling: fields.promptUpsampling.checked,
    imagePrompt: file ? { file, strength: Number(fields.strength.value) } : null,
  }
}

function readAsDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => resolve(String(reader.result))
    reader.onerror = () => reject(reader.error)
    reader.readAsDataURL(file)
  })
}

/** The body of POST /api/jobs (src/api/native/schemas.ts: createJobBody). */
export interface CreateBody {
  model: string
  prompt: string
  numImages: number
  outputFormat: string
  outputQuality: number
  safetyTolerance: number
  seed: number | null
  width?: number
  height?: number
  aspectRatio?: string
  raw?: boolean
  steps?: number
  guidance?: number
  promptUpsampling?: boolean
  imagePrompt?: { data: string; strength: number }
}

export async function requestBody(s: Settings): Promise<CreateBody> {
  const body: CreateBody = {
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
  // Off is the API's default: only a request that asks for it says so.
  if (s.promptUpsampling) body.promptUpsampling = true
  if (s.imagePrompt)
    body.imagePrompt = { data: await readAsDataUrl(s.imagePrompt.file), strength: s.imagePrompt.strength }
  return body
}

/** What the form shows of its values: the sliders' numbers, and the size that will be sent. */
export function syncOutputs(): void {
  $('#quality-out').textContent = fields.quality.value
  $('#safety-out').textContent = fields.safety.value
  $('#strength-out').textContent = fields.strength.value
  fields.quality.disabled = fields.format.value === 'png'
  // While a size is typed, the size the request will carry (the field itself snaps when left).
  const [w, h] = [width(), height()]
  const rounded = [fields.width, fields.height].some(
    (input) => input.value.trim() !== '' && Number(input.value) !== sizeOf(input.value, undefined),
  )
  const sent = $('#size-sent')
  // One short line either way: text that grew or shrank as the field is left would move what is
  // below it under the pointer between mousedown and mouseup (the click would be lost).
  sent.textContent = `Sends ${w} × ${h} px.`
  sent.dataset.rounded = String(rounded)
}
