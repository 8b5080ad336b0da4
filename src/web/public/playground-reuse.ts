// A past job's settings back in the form: for Re-run (the same seed), Vary (a new seed) and
// Reuse settings (to edit before generating). Also the image prompt: chosen, dropped or pasted,
// previewed and removable, or taken from a result ("Use as image prompt").
import { $, el } from './common.js'
import { fields, form, settingsChanged, syncOutputs } from './playground-form.js'
import { markPreset, onModelChange } from './playground-models.js'
import type { Job } from './playground-types.js'

/** Fills the form with `job`'s request; `seed`: the one it used, or none (a new one is drawn). */
export function fillForm(job: Job, { seed }: { seed: boolean }): void {
  const r = job.request
  fields.prompt.value = r.prompt
  fields.model.value = job.model
  onModelChange()
  if (r.aspectRatio) fields.aspectRatio.value = r.aspectRatio
  else {
    fields.width.value = String(r.width)
    fields.height.value = String(r.height)
    markPreset()
  }
  fields.raw.checked = Boolean(r.raw)
  fields.steps.value = r.steps === undefined ? '' : String(r.steps)
  fields.guidance.value = r.guidance === undefined ? '' : String(r.guidance)
  fields.seed.value = seed ? String(job.result?.seed ?? r.seed ?? '') : ''
  fields.format.value = r.outputFormat
  fields.quality.value = String(r.outputQuality)
  fields.safety.value = String(r.safetyTolerance)
  fields.numImages.value = String(r.numImages)
  fields.promptUpsampling.checked = Boolean(r.promptUpsampling)
  // Where it is set, the advanced settings open to show it (it is not in view otherwise).
  if (r.promptUpsampling) $<HTMLDetailsElement>('#advanced').open = true
  // The page does not hold a past job's image prompt: none is sent, and the page says so.
  if (fields.imagePrompt.files?.length) {
    fields.imagePrompt.value = ''
    showImagePrompt()
  }
  $('#form-error').textContent = r.imagePrompt ? "The job's image prompt is not reused: add it again to use it." : ''
  syncOutputs()
  // The code panel shows what will be sent: these settings, not the ones before.
  settingsChanged()
}

/** Whether a job is being followed to its end (the page follows one at a time). */
const busy = () => {
  if (!$<HTMLButtonElement>('#submit').disabled) return false
  $('#form-error').textContent = 'A job is running: wait for it to end, or cancel it, before starting another.'
  return true
}

/** Generates `job` again: with its seed (Re-run) or a new one (Vary). */
export function generateAgain(job: Job, { seed }: { seed: boolean }): void {
  if (busy()) return
  fillForm(job, { seed })
  form.requestSubmit()
}

/** Sets `file` as the image prompt: previewed, with Remove; Advanced settings opened to show it. */
export function setImagePrompt(file: File): void {
  const transfer = new DataTransfer()
  transfer.items.add(file)
  fields.imagePrompt.files = transfer.files
  showImagePrompt()
  $<HTMLDetailsElement>('#advanced').open = true
  settingsChanged()
}

/** The preview of the chosen image prompt (or nothing), kept in step with the file input. */
export function showImagePrompt(): void {
  const file = fields.imagePrompt.files?.[0]
  const preview = $('#image-prompt-preview')
  const previous = preview.querySelector('img')?.src
  if (previous) URL.revokeObjectURL(previous)
  if (!file) {
    preview.replaceChildren()
    return
  }
  const remove = () => {
    fields.imagePrompt.value = ''
    showImagePrompt()
    settingsChanged()
  }
  preview.replaceChildren(
    el('img', { src: URL.createObjectURL(file), alt: `The image prompt: ${file.name}` }),
    el('button', { type: 'button', text: 'Remove', 'aria-label': 'Remove the image prompt', onclick: remove }),
  )
}

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp']

/** Drop an image on the settings, or paste one anywhere on the page: it becomes the image prompt. */
export function acceptImagePrompts(): void {
  const zone = form
  zone.addEventListener('dragover', (event) => {
    if (![...(event.dataTransfer?.items ?? [])].some((item) => item.kind === 'file')) return
    event.preventDefault()
    zone.classList.add('dropping')
  })
  zone.addEventListener('dragleave', () => zone.classList.remove('dropping'))
  zone.addEventListener('drop', (event) => {
    zone.classList.remove('dropping')
    const files = [...(event.dataTransfer?.files ?? [])]
    if (files.length === 0) return
    // Any file dropped here stays here (the browser would open it and leave the page).
    event.preventDefault()
    const file = files.find((f) => IMAGE_TYPES.includes(f.type))
    if (file) setImagePrompt(file)
    else $('#form-error').textContent = 'An image prompt must be a PNG, JPEG or WebP image.'
  })
  document.addEventListener('paste', (event) => {
    const file = [...(event.clipboardData?.files ?? [])].find((f) => IMAGE_TYPES.includes(f.type))
    if (!file) return
    // Text pasted into a field stays text (office apps put an image of the text beside it).
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement
    if (typing && event.clipboardData?.types.includes('text/plain')) return
    event.preventDefault()
    setImagePrompt(file)
  })
  fields.imagePrompt.addEventListener('change', showImagePrompt)
}

/** A result image as the image prompt of the next generation (fetched through a fresh URL). */
export async function useAsImagePrompt(url: string, name: string): Promise<void> {
  const response = await fetch(url)
  if (!response.ok) throw new Error(`HTTP ${response.status}`)
  const blob = await response.blob()
  setImagePrompt(new File([blob], name, { type: blob.type }))
}
