// What the result panel shows (Preact, over the signals of playground-job.ts): the connection
// line, the job's status line and progress, a placeholder of its shape while it runs, and its
// images once it succeeded, each with what can be done with it (Download through a fresh URL,
// Copy seed, Vary, Reuse settings, Use as image prompt, zoom to full size).
import { signal } from '@preact/signals'
import { render } from 'preact'
import { useLayoutEffect, useRef, useState } from 'preact/hooks'
import { $, announce, api, messageOf, usd } from './common.js'
import { saveImage } from './downloads.js'
import type { LiveStatus } from './live.js'
import { deleted, now, shown, unfinished } from './playground-job.js'
import { fillForm, generateAgain, useAsImagePrompt } from './playground-reuse.js'
import type { Job, Upsampling } from './playground-types.js'

// Sizes that change (the progress, the placeholder's shape) are style props: Preact sets them
// through the element's style object (CSSOM), which the pages' CSP allows; a style attribute
// in markup it refuses.

/** What the page says of its connection: nothing while the stream is up (set by app.ts). */
const connection = signal<{ state?: 'retrying' | 'refused' | 'live'; text: string }>({ text: '' })

export function showConnection(status: LiveStatus): void {
  if (status.state === 'retrying')
    connection.value = {
      state: 'retrying',
      text: `Connection to fluxhost lost — retrying in ${Math.ceil(status.inMs / 1000)} s.`,
    }
  // The key was refused (revoked, say): nothing is tried again until a key is entered, and it says so.
  else if (status.state === 'refused')
    connection.value = { state: 'refused', text: `Live updates stopped: ${status.message}` }
  else if (status.state === 'live') connection.value = { ...connection.value, state: 'live' }
}

/** The image open at its full size, over the page; null when none is. */
const zoomed = signal<{ url: string; alt: string } | null>(null)

const seconds = (from: string, to: number) => Math.max(0, Math.round((to - Date.parse(from)) / 100) / 10)

/** Whether the prompt was upsampled as asked, and by what, or why not (the result says). */
const upsampled = (upsampling: Upsampling | undefined): string => {
  if (!upsampling) return ''
  if (!upsampling.applied) return ` Prompt not upsampled: ${upsampling.reason ?? 'no reason given'}.`
  return upsampling.by === 'upsampler' ? ' Prompt upsampled by the upsampler.' : ' Prompt upsampled by the engine.'
}

/**
 * The status line, in two parts: where the job stands (said by screen readers when it changes)
 * and what ticks while it runs (place in the queue, percent, seconds: shown, not said each second).
 */
export function statusParts(job: Job, at = Date.now()): [said: string, ticking: string] {
  const elapsed = `${Math.floor(seconds(job.createdAt, at))} s`
  const ahead = job.queuePosition ? `${job.queuePosition} ${job.queuePosition === 1 ? 'job' : 'jobs'} ahead, ` : ''
  switch (job.state) {
    case 'queued':
      return ['Queued…', ` ${ahead}${elapsed}`]
    case 'running':
      return ['Generating…', ` ${Math.round((job.progress ?? 0) * 100)} %, ${elapsed}`]
    default:
      return [statusText(job), '']
  }
}

/** The status line: where the job stands (its time counted to `at`), or what it made. */
export function statusText(job: Job, at = Date.now()): string {
  switch (job.state) {
    case 'queued':
    case 'running':
      return statusParts(job, at).join('')
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

function Status() {
  const job = shown.value
  const [said, ticking] = deleted.value
    ? ['The job was deleted.', '']
    : job
      ? statusParts(job, now.value)
      : ['Nothing generated yet.', '']
  // Only the first part is a live region: a change of state is said, the clock is not.
  return (
    <div id="job-status" data-state={deleted.value ? 'deleted' : job?.state}>
      <span role="status" aria-live="polite">
        {said}
      </span>
      {ticking}
    </div>
  )
}

function Progress() {
  const job = shown.value
  const percent = Math.round(Math.max(0, Math.min(1, job?.progress ?? 0)) * 100)
  const ahead = job?.queuePosition ? `, ${job.queuePosition} ahead` : ''
  const valueText = job?.state === 'queued' ? `Queued${ahead}` : `${percent} %`
  return (
    <div class="progress">
      <div
        id="progress"
        role="progressbar"
        aria-label="Progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={valueText}
        style={{ width: `${percent}%` }}
      />
    </div>
  )
}

/** Where the image will be: a placeholder of the asked size's shape while the job runs. */
function Placeholder({ job }: { job: Job }) {
  const r = job.request
  const [w = 1, h = 1] = r.aspectRatio ? r.aspectRatio.split(':').map(Number) : [r.width, r.height]
  return (
    <div class="placeholder-image" role="img" aria-label="The image, being made" style={{ '--ratio': String(w / h) }} />
  )
}

/** A succeeded job's image, with its size, Download and what can be done with it. */
function Result({ job, index }: { job: Job; index: number }) {
  const image = job.result?.images[index]
  if (!image) return null
  const alt = `Image ${index + 1} for: ${job.request.prompt}`
  const name = `fluxhost-${job.id}-${index + 1}`
  return (
    <figure>
      <button
        type="button"
        class="zoom"
        aria-label={`Image ${index + 1} at full size`}
        onClick={() => {
          zoomed.value = { url: image.url, alt }
        }}
      >
        <img src={image.url} alt={alt} width={image.width} height={image.height} />
      </button>
      <figcaption>
        {`${image.width}×${image.height} `}
        <a href={image.url} download={name} onClick={(event) => void downloadFresh(event, job.id, index, name)}>
          Download
        </a>
        <Actions job={job} index={index} />
      </figcaption>
    </figure>
  )
}

/** What can be done with a result: its seed, a variation, its settings, or it as the next image prompt. */
function Actions({ job, index }: { job: Job; index: number }) {
  const seed = job.result?.seed
  const [seedText, setSeedText] = useState('Copy seed')
  const copySeed = () =>
    navigator.clipboard.writeText(String(seed)).then(
      () => {
        setSeedText('Seed copied')
        announce(`Seed ${seed} copied.`)
      },
      () => setSeedText(`Seed ${seed}`),
    )
  const n = index + 1
  return (
    <span class="image-actions">
      <button type="button" aria-label={`Copy seed ${seed}`} onClick={() => void copySeed()}>
        {seedText}
      </button>
      <button
        type="button"
        aria-label={`Vary image ${n}: the same settings, a new seed`}
        onClick={() => generateAgain(job, { seed: false })}
      >
        Vary
      </button>
      <button type="button" aria-label={`Reuse settings of image ${n}`} onClick={() => fillForm(job, { seed: true })}>
        Reuse settings
      </button>
      <button
        type="button"
        aria-label={`Use as image prompt: image ${n}`}
        onClick={() => void asImagePrompt(job, index)}
      >
        Use as image prompt
      </button>
    </span>
  )
}

/** Puts result `index` of a job in the image prompt (read again: the URL it had may have expired). */
async function asImagePrompt(job: Job, index: number): Promise<void> {
  try {
    const fresh = await api<Job>(`/api/jobs/${job.id}`)
    const image = fresh.result?.images[index]
    if (!image) throw new Error('the image is gone')
    await useAsImagePrompt(image.url, `fluxhost-${job.id}-${index + 1}`)
  } catch (e) {
    $('#form-error').textContent = `The image could not be used as the image prompt: ${messageOf(e)}`
  }
}

/** Downloads image `index` of a job (downloads.ts: through a URL signed now). */
async function downloadFresh(event: Event, jobId: string, index: number, name: string): Promise<void> {
  event.preventDefault()
  try {
    await saveImage(jobId, index, name)
  } catch (e) {
    $('#form-error').textContent = `The image could not be downloaded: ${messageOf(e)}`
  }
}

/** The placeholder while the job runs, its images once it succeeded; nothing otherwise. */
function Images() {
  const job = shown.value
  return (
    <div id="images" class="images">
      {/* Keyed by job: another job's placeholder and images are new elements, Copy seed afresh. */}
      {job && unfinished(job) ? <Placeholder key={job.id} job={job} /> : null}
      {job?.state === 'succeeded'
        ? (job.result?.images ?? []).map((_, i) => <Result key={`${job.id}-${i}`} job={job} index={i} />)
        : null}
    </div>
  )
}

/** The image at its full size, over the page (Esc, Close or a click on it returns). */
function Zoom() {
  const open = zoomed.value
  const dialog = useRef<HTMLDialogElement>(null)
  useLayoutEffect(() => {
    if (open && dialog.current && !dialog.current.open) dialog.current.showModal()
  }, [open])
  if (!open) return null
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: a click on the image is a shortcut; Esc and Close are the keys
    <dialog
      ref={dialog}
      class="zoomed"
      aria-label={open.alt}
      onClose={() => {
        zoomed.value = null
      }}
      onClick={(event) => {
        if (event.target instanceof HTMLImageElement) dialog.current?.close()
      }}
    >
      <form method="dialog">
        <button type="submit">Close</button>
      </form>
      <img src={open.url} alt={open.alt} />
    </dialog>
  )
}

function ResultPanel() {
  const line = connection.value
  return (
    <>
      <p
        id="connection"
        class="connection"
        role="status"
        aria-live="polite"
        data-state={line.state}
        hidden={line.state !== 'retrying' && line.state !== 'refused'}
      >
        {line.text}
      </p>
      <Status />
      <Progress />
      <Images />
      <Zoom />
    </>
  )
}

/** Draws the result panel into its place (under its heading). */
export function setUpResult(): void {
  render(<ResultPanel />, $('#result-view'))
}
