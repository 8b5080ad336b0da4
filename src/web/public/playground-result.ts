// What the result panel shows of a job: its status line, a placeholder of its shape while it
// runs, and its images once it succeeded, each with what can be done with it (Download through
// a fresh URL, Copy seed, Vary, Reuse settings, Use as image prompt, zoom to full size).
import { $, api, el, messageOf, usd } from './common.js'
import { saveImage } from './downloads.js'
import { fillForm, generateAgain, useAsImagePrompt } from './playground-reuse.js'
import type { Job, Upsampling } from './playground-types.js'

export function setProgress(fraction: number): void {
  const percent = Math.round(Math.max(0, Math.min(1, fraction)) * 100)
  const bar = $('#progress')
  bar.style.width = `${percent}%`
  bar.setAttribute('aria-valuenow', String(percent))
  bar.setAttribute('aria-valuetext', `${percent} %`)
}

const seconds = (from: string, to: number) => Math.max(0, Math.round((to - Date.parse(from)) / 100) / 10)

/** Whether the prompt was upsampled as asked, and by what, or why not (the result says). */
const upsampled = (upsampling: Upsampling | undefined): string => {
  if (!upsampling) return ''
  if (!upsampling.applied) return ` Prompt not upsampled: ${upsampling.reason ?? 'no reason given'}.`
  return upsampling.by === 'upsampler' ? ' Prompt upsampled by the upsampler.' : ' Prompt upsampled by the engine.'
}

/** The status line: where the job stands, or what it made. */
export function statusText(job: Job): string {
  const elapsed = `${Math.floor(seconds(job.createdAt, Date.now()))} s`
  const ahead = job.queuePosition ? `${job.queuePosition} ${job.queuePosition === 1 ? 'job' : 'jobs'} ahead, ` : ''
  switch (job.state) {
    case 'queued':
      return `Queued… ${ahead}${elapsed}`
    case 'running':
      return `Generating… ${Math.round((job.progress ?? 0) * 100)} %, ${elapsed}`
    case 'succeeded': {
      const took = job.finishedAt ? ` in ${seconds(job.createdAt, Date.parse(job.finishedAt))} s` : ''
      const n = job.result?.images.length ?? 0
      const made = `Done${took}. ${n} image(s), seed ${job.result?.seed}, ${usd(job.cost?.usd)} on ${job.engine}.`
      return made + upsampled(job.result?.upsampling)
    }
    case 'failed':
    case 'canceled':
      return `${job.state === 'failed' ? 'Failed.' : 'Canceled.'} ${job.error?.message ?? ''}`.trim()
    default:
      return job.state
  }
}

/** Where the image will be: a placeholder of the asked size's shape while the job runs. */
export function placeholder(job: Job): HTMLElement {
  const r = job.request
  const box = el('div', { class: 'placeholder-image', role: 'img', 'aria-label': 'The image, being made' })
  const [w = 1, h = 1] = r.aspectRatio ? r.aspectRatio.split(':').map(Number) : [r.width, r.height]
  // (A property set through the style object: the pages' CSP refuses style attributes.)
  box.style.setProperty('--ratio', String(w / h))
  return box
}

/** A succeeded job's images, each with its size, Download and what can be done with it. */
export function resultImages(job: Job): HTMLElement[] {
  return (job.result?.images ?? []).map((image, i) =>
    el(
      'figure',
      {},
      el(
        'button',
        {
          type: 'button',
          class: 'zoom',
          'aria-label': `Image ${i + 1} at full size`,
          onclick: () => zoom(image.url, `Image ${i + 1} for: ${job.request.prompt}`),
        },
        el('img', {
          src: image.url,
          alt: `Image ${i + 1} for: ${job.request.prompt}`,
          width: image.width,
          height: image.height,
        }),
      ),
      el(
        'figcaption',
        {},
        `${image.width}×${image.height} `,
        el('a', {
          href: image.url,
          download: `fluxhost-${job.id}-${i + 1}`,
          text: 'Download',
          onclick: (event) => void downloadFresh(event, job.id, i),
        }),
        imageActions(job, i),
      ),
    ),
  )
}

/** What can be done with a result: its seed, a variation, its settings, or it as the next image prompt. */
function imageActions(job: Job, index: number): HTMLElement {
  const seed = job.result?.seed
  const copySeed = (event: Event) => {
    const button = event.currentTarget as HTMLButtonElement
    navigator.clipboard.writeText(String(seed)).then(
      () => {
        button.textContent = 'Seed copied'
      },
      () => {
        button.textContent = `Seed ${seed}`
      },
    )
  }
  const asPrompt = async () => {
    try {
      const fresh = await api<Job>(`/api/jobs/${job.id}`)
      const image = fresh.result?.images[index]
      if (!image) throw new Error('the image is gone')
      await useAsImagePrompt(image.url, `fluxhost-${job.id}-${index + 1}`)
    } catch (e) {
      $('#form-error').textContent = `The image could not be used as the image prompt: ${messageOf(e)}`
    }
  }
  const button = (text: string, label: string, onclick: (event: Event) => void) =>
    el('button', { type: 'button', text, 'aria-label': label, onclick })
  const n = index + 1
  return el(
    'span',
    { class: 'image-actions' },
    button('Copy seed', `Copy seed ${seed}`, copySeed),
    button('Vary', `Vary image ${n}: the same settings, a new seed`, () => generateAgain(job, { seed: false })),
    button('Reuse settings', `Reuse settings of image ${n}`, () => fillForm(job, { seed: true })),
    button('Use as image prompt', `Use as image prompt: image ${n}`, () => void asPrompt()),
  )
}

/** Downloads image `index` of a job (downloads.ts: through a URL signed now). */
async function downloadFresh(event: Event, jobId: string, index: number): Promise<void> {
  event.preventDefault()
  const link = event.currentTarget as HTMLAnchorElement
  try {
    await saveImage(jobId, index, link.getAttribute('download') ?? `fluxhost-${jobId}-${index + 1}`)
  } catch (e) {
    $('#form-error').textContent = `The image could not be downloaded: ${messageOf(e)}`
  }
}

/** The image at its full size, over the page (Esc or Close returns). */
function zoom(url: string, alt: string): void {
  const dialog = el(
    'dialog',
    { class: 'zoomed', 'aria-label': alt },
    el('form', { method: 'dialog' }, el('button', { text: 'Close' })),
    el('img', { src: url, alt }),
  )
  dialog.addEventListener('close', () => dialog.remove())
  // A click on the image (not the Close button) closes it too.
  dialog.addEventListener('click', (event) => {
    if (event.target instanceof HTMLImageElement) dialog.close()
  })
  document.body.append(dialog)
  dialog.showModal()
}
