// The playground: settings → POST /api/jobs → progress over /api/jobs/:id/events → images;
// the caller's history; the same request as code in every dialect.
import { $, ApiError, api, el, events, getKey, keyForm, usd } from './common.js'
import { snippets, unsupported } from './snippets.js'

const form = $('#generate')
const fields = {
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
const ULTRA_RATIOS = ['21:9', '16:9', '3:2', '4:3', '1:1', '3:4', '2:3', '9:16', '9:21']
const PRESETS = [
  ['1:1', 1024, 1024],
  ['4:3', 1024, 768],
  ['3:4', 768, 1024],
  ['3:2', 1216, 832],
  ['2:3', 832, 1216],
  ['16:9', 1344, 768],
  ['9:16', 768, 1344],
  ['21:9', 1440, 608],
]

const model = () => models.find((m) => m.id === fields.model.value) ?? models[0]
const isUltra = () => fields.model.value === 'flux-pro-1.1-ultra'

function renderModels() {
  const chosen = fields.model.value || 'flux-pro-1.1'
  fields.model.replaceChildren(
    ...models.map((m) => el('option', { value: m.id, text: `${m.name ?? m.id} — ${usd(m.priceUsd)}/image` })),
  )
  fields.model.value = models.some((m) => m.id === chosen) ? chosen : models[0].id
  onModelChange()
}

function onModelChange() {
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
  if (m.steps && m.guidance) {
    for (const [input, range] of [
      [fields.steps, m.steps],
      [fields.guidance, m.guidance],
    ]) {
      input.min = String(range.min)
      input.max = String(range.max)
      input.placeholder = String(range.default)
    }
    $('#sampling-hint').textContent =
      `Steps ${m.steps.min}–${m.steps.max} (default ${m.steps.default}); guidance ${m.guidance.min}–${m.guidance.max} (default ${m.guidance.default}). Empty = default.`
  }
  updateCode()
}

function renderPresets() {
  const box = $('#presets')
  box.replaceChildren(
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
          updateCode()
        },
      }),
    ),
  )
}

function markPreset() {
  for (const button of $('#presets').children) {
    const on = button.dataset.width === fields.width.value && button.dataset.height === fields.height.value
    button.setAttribute('aria-pressed', String(on))
  }
}

/** The form as the playground's settings (also what the code snippets are made from). */
function settings() {
  const seed = fields.seed.value.trim()
  const sampling = (input) => (model().steps && input.value.trim() !== '' ? Number(input.value) : null)
  return {
    model: fields.model.value,
    prompt: fields.prompt.value,
    width: Number(fields.width.value),
    height: Number(fields.height.value),
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

async function requestBody(s) {
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

// ---- the current job ----

let following // { id, abort }

function setProgress(fraction) {
  const percent = Math.round(Math.max(0, Math.min(1, fraction)) * 100)
  const bar = $('#progress')
  bar.style.width = `${percent}%`
  bar.setAttribute('aria-valuenow', String(percent))
}

function showJob(job) {
  const status = $('#job-status')
  const labels = {
    queued: 'Queued…',
    running: 'Generating…',
    succeeded: 'Done.',
    failed: 'Failed.',
    canceled: 'Canceled.',
  }
  let text = labels[job.state] ?? job.state
  if (job.state === 'failed' || job.state === 'canceled') text += ` ${job.error?.message ?? ''}`
  if (job.state === 'succeeded')
    text += ` ${job.result.images.length} image(s), seed ${job.result.seed}, ${usd(job.cost?.usd)} on ${job.engine}.`
  status.textContent = text.trim()
  status.dataset.state = job.state
  setProgress(job.progress ?? 0)
  const running = job.state === 'queued' || job.state === 'running'
  $('#cancel').hidden = !running
  $('#submit').disabled = running
  if (job.state === 'succeeded') {
    $('#images').replaceChildren(
      ...job.result.images.map((image, i) =>
        el(
          'figure',
          {},
          el('img', {
            src: image.url,
            alt: `Image ${i + 1} for: ${job.request.prompt}`,
            width: image.width,
            height: image.height,
          }),
          el(
            'figcaption',
            {},
            `${image.width}×${image.height} `,
            el('a', { href: image.url, download: `fluxhost-${job.id}-${i + 1}`, text: 'Download' }),
          ),
        ),
      ),
    )
  }
}

async function follow(job) {
  following?.abort.abort()
  const abort = new AbortController()
  following = { id: job.id, abort }
  showJob(job)
  try {
    await events(
      `/api/jobs/${job.id}/events`,
      (name, data) => {
        if (name === 'state') showJob(data)
        else if (name === 'progress') setProgress(data.progress)
      },
      abort.signal,
    )
  } catch (error) {
    if (!abort.signal.aborted) $('#form-error').textContent = error.message
  }
  if (following?.id === job.id) following = undefined
  void loadHistory()
}

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  const error = $('#form-error')
  error.textContent = ''
  if (!fields.prompt.value.trim()) {
    error.textContent = 'Enter a prompt.'
    fields.prompt.focus()
    return
  }
  $('#submit').disabled = true
  try {
    const job = await api('/api/jobs', { method: 'POST', body: await requestBody(settings()) })
    $('#images').replaceChildren()
    void follow(job)
    void loadHistory()
  } catch (e) {
    error.textContent = e instanceof ApiError ? e.message : String(e)
    $('#submit').disabled = false
  }
})

$('#cancel').addEventListener('click', async () => {
  if (!following) return
  try {
    showJob(await api(`/api/jobs/${following.id}/cancel`, { method: 'POST' }))
  } catch (e) {
    $('#form-error').textContent = e.message
  }
})

// ---- history ----

let cursor = null

function card(job) {
  const image = job.result?.images?.[0]
  const size = job.request.aspectRatio ?? `${job.request.width}×${job.request.height}`
  const running = job.state === 'queued' || job.state === 'running'
  return el(
    'li',
    { class: 'card', 'data-job': job.id, 'data-state': job.state },
    image
      ? el(
          'a',
          { href: image.url, target: '_blank', rel: 'noopener' },
          el('img', { src: image.thumbnailUrl ?? image.url, alt: job.request.prompt, loading: 'lazy' }),
        )
      : el('div', { class: 'placeholder', text: job.state }),
    el('p', { class: 'prompt', text: job.request.prompt }),
    el('p', {
      class: 'meta',
      text: `${job.model} · ${size} · seed ${job.result?.seed ?? job.request.seed ?? 'random'}`,
    }),
    el('p', {
      class: 'meta',
      text: `${job.state}${job.engine ? ` · ${job.engine}` : ''}${job.cost?.charged ? ` · ${usd(job.cost.usd)}` : ''} · ${new Date(job.createdAt).toLocaleString()}`,
    }),
    el(
      'div',
      { class: 'card-actions' },
      el('button', {
        type: 'button',
        text: 'Re-run',
        'aria-label': `Re-run: ${job.request.prompt}`,
        onclick: () => rerun(job),
      }),
      running
        ? el('button', {
            type: 'button',
            text: 'Cancel',
            'aria-label': `Cancel: ${job.request.prompt}`,
            onclick: () => cancelJob(job.id),
          })
        : null,
      running ? el('button', { type: 'button', text: 'Watch', onclick: () => void follow(job) }) : null,
      running
        ? null
        : el('button', {
            type: 'button',
            text: 'Delete',
            'aria-label': `Delete: ${job.request.prompt}`,
            onclick: () => deleteJob(job),
          }),
    ),
  )
}

async function loadHistory(more = false) {
  if (!getKey()) return
  try {
    const page = await api(`/api/jobs?limit=12${more && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    cursor = page.nextCursor
    const gallery = $('#gallery')
    const cards = page.data.map(card)
    if (more) gallery.append(...cards)
    else gallery.replaceChildren(...cards)
    $('#history-empty').hidden = gallery.children.length > 0
    $('#more').hidden = !cursor
  } catch (e) {
    $('#history-empty').hidden = false
    $('#history-empty').textContent = e.message
  }
}

async function cancelJob(id) {
  try {
    await api(`/api/jobs/${id}/cancel`, { method: 'POST' })
  } catch (e) {
    $('#form-error').textContent = e.message
  }
  void loadHistory()
}

async function deleteJob(job) {
  if (!confirm(`Delete this job and its images? "${job.request.prompt.slice(0, 80)}"`)) return
  try {
    await api(`/api/jobs/${job.id}`, { method: 'DELETE' })
  } catch (e) {
    $('#form-error').textContent = e.message
  }
  void loadHistory()
}

function rerun(job) {
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
  fields.seed.value = String(job.result?.seed ?? r.seed ?? '')
  fields.format.value = r.outputFormat
  fields.quality.value = String(r.outputQuality)
  fields.safety.value = String(r.safetyTolerance)
  fields.numImages.value = String(r.numImages)
  syncOutputs()
  form.requestSubmit()
}

$('#more').addEventListener('click', () => void loadHistory(true))

// ---- copy as code ----

function updateCode() {
  const s = settings()
  const dialect = $('#code-dialect').value
  const language = $('#code-language').value
  const forCode = {
    ...s,
    prompt: s.prompt || 'A clean product photo of a red apple on a white table, soft studio lighting.',
    imagePrompt: s.imagePrompt ? { url: 'https://example.com/your-image.jpg', strength: s.imagePrompt.strength } : null,
  }
  const reason = unsupported(forCode, dialect)
  const notes = []
  if (reason) notes.push(reason)
  if (s.imagePrompt)
    notes.push("The uploaded image is not in the code: put your image's URL where it says your-image.jpg.")
  $('#code-note').textContent = notes.join(' ')
  $('#code').textContent = snippets(forCode, { baseUrl: location.origin, key: getKey() || 'YOUR_API_KEY' })[dialect][
    language
  ]
}

$('#copy-code').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('#code').textContent)
    $('#copy-code').textContent = 'Copied'
  } catch {
    $('#copy-code').textContent = 'Select and copy'
  }
  setTimeout(() => ($('#copy-code').textContent = 'Copy'), 1500)
})

// ---- wiring ----

function syncOutputs() {
  $('#quality-out').textContent = fields.quality.value
  $('#safety-out').textContent = fields.safety.value
  $('#strength-out').textContent = fields.strength.value
  fields.quality.disabled = fields.format.value === 'png'
}

$('#dice').addEventListener('click', () => {
  fields.seed.value = String(Math.floor(Math.random() * 2 ** 32))
  updateCode()
})
fields.model.addEventListener('change', onModelChange)
for (const input of [fields.width, fields.height]) input.addEventListener('input', markPreset)
form.addEventListener('input', () => {
  syncOutputs()
  updateCode()
})
for (const select of [$('#code-dialect'), $('#code-language')]) select.addEventListener('change', updateCode)

fields.aspectRatio.replaceChildren(...ULTRA_RATIOS.map((ratio) => el('option', { value: ratio, text: ratio })))
fields.aspectRatio.value = '16:9'
fields.width.value = '1024'
fields.height.value = '768'
renderPresets()
markPreset()
renderModels()
syncOutputs()

// The models, their limits and prices: public, so shown before a key is entered.
fetch('/api/models')
  .then((response) => (response.ok ? response.json() : null))
  .then((list) => {
    if (!Array.isArray(list?.data)) return
    models = list.data.map((m) => ({
      id: m.id,
      name: m.name,
      priceUsd: m.priceUsd,
      minSize: m.size?.min,
      maxSize: m.size?.max,
      sizeMultiple: m.size?.multipleOf,
      steps: m.steps,
      guidance: m.guidance,
      engines: m.engines,
    }))
    renderModels()
  })
  .catch(() => undefined)

keyForm(async (me) => {
  updateCode()
  if (!me) {
    $('#gallery').replaceChildren()
    $('#history-empty').hidden = false
    $('#history-empty').textContent = 'Your jobs appear here once your key is set.'
    return
  }
  void loadHistory()
})
