// The model picker and what follows from it: the size fields and presets (or Ultra's aspect
// ratios), the sampling fields of flux-dev, and the models' limits and prices from /api/models.
import { $, el, usd } from './common.js'
import { allModels, fields, model, setModels, settingsChanged } from './playground-form.js'
import type { ApiModel, Range } from './playground-types.js'

const ULTRA_RATIOS = ['21:9', '16:9', '3:2', '4:3', '1:1', '3:4', '2:3', '9:16', '9:21']
const PRESETS: readonly (readonly [label: string, width: number, height: number])[] = [
  ['1:1', 1024, 1024],
  ['4:3', 1024, 768],
  ['3:4', 768, 1024],
  ['3:2', 1216, 832],
  ['2:3', 832, 1216],
  ['16:9', 1344, 768],
  ['9:16', 768, 1344],
  ['21:9', 1440, 608],
]

const isUltra = () => fields.model.value === 'flux-pro-1.1-ultra'

export function renderModels(): void {
  const chosen = fields.model.value || 'flux-pro-1.1'
  const models = allModels()
  fields.model.replaceChildren(
    ...models.map((m) => el('option', { value: m.id, text: `${m.name ?? m.id} — ${usd(m.priceUsd)}/image` })),
  )
  fields.model.value = models.some((m) => m.id === chosen) ? chosen : (models[0]?.id ?? '')
  onModelChange()
}

export function onModelChange(): void {
  const ultra = isUltra()
  $('#ultra-fields').hidden = !ultra
  $('#size-fields').hidden = ultra
  const m = model()
  if (!ultra) {
    for (const input of [fields.width, fields.height]) {
      input.min = String(m.minSize ?? 256)
      input.max = String(m.maxSize ?? 1440)
      input.step = String(m.sizeMultiple ?? 32)
    }
    $('#size-hint').textContent = `${m.minSize ?? 256}–${m.maxSize ?? 1440} px, multiples of ${m.sizeMultiple ?? 32}.`
  }
  // Steps and guidance, for the models that take them (flux-dev); empty = the model's default.
  $('#dev-fields').hidden = !m.steps
  const { steps, guidance } = m
  if (steps && guidance) {
    const ranges: [HTMLInputElement, Range][] = [
      [fields.steps, steps],
      [fields.guidance, guidance],
    ]
    for (const [input, range] of ranges) {
      input.min = String(range.min)
      input.max = String(range.max)
      input.placeholder = String(range.default)
    }
    $('#sampling-hint').textContent =
      `Steps ${steps.min}–${steps.max} (default ${steps.default}); ` +
      `guidance ${guidance.min}–${guidance.max} (default ${guidance.default}). Empty = default.`
  }
  settingsChanged()
}

export function renderPresets(): void {
  $('#presets').replaceChildren(
    ...PRESETS.map(([label, width, height]) =>
      el('button', {
        type: 'button',
        'aria-pressed': 'false',
        'data-width': width,
        'data-height': height,
        text: label,
        onclick: () => {
          fields.width.value = String(width)
          fields.height.value = String(height)
          markPreset()
          settingsChanged()
        },
      }),
    ),
  )
}

export function markPreset(): void {
  for (const button of $('#presets').querySelectorAll<HTMLButtonElement>('button')) {
    const on = button.dataset.width === fields.width.value && button.dataset.height === fields.height.value
    button.setAttribute('aria-pressed', String(on))
  }
}

/** The form's first values: Ultra's ratios, a 4:3 size, the presets and the models. */
export function setUpModels(): void {
  fields.aspectRatio.replaceChildren(...ULTRA_RATIOS.map((ratio) => el('option', { value: ratio, text: ratio })))
  fields.aspectRatio.value = '16:9'
  fields.width.value = '1024'
  fields.height.value = '768'
  renderPresets()
  markPreset()
  renderModels()
}

/** The models, their limits and prices: public, so shown before a key is entered. */
export async function loadModels(): Promise<void> {
  try {
    const response = await fetch('/api/models')
    const list = response.ok ? ((await response.json()) as { data?: unknown }) : null
    if (!Array.isArray(list?.data)) return
    setModels(
      (list.data as ApiModel[]).map((m) => ({
        id: m.id,
        name: m.name,
        priceUsd: m.priceUsd,
        minSize: m.size?.min,
        maxSize: m.size?.max,
        sizeMultiple: m.size?.multipleOf,
        defaultWidth: m.size?.defaultWidth,
        defaultHeight: m.size?.defaultHeight,
        steps: m.steps,
        guidance: m.guidance,
        engines: m.engines,
      })),
    )
    renderModels()
  } catch {
    // The models built into the page stay (the server may be away): the API checks every request.
  }
}
