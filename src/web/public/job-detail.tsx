// A job opened from the history (or from a link, #job=<id>): its images, every setting it was
// made with, where it stands or how it ended (the error as the API gave it), and what can be
// done with it. A modal <dialog>: Esc or Close returns to the gallery.
import { useEffect, useRef } from 'preact/hooks'
import { usd } from './common.js'
import { FavouriteButton, sizeOf, unfinished } from './gallery-card.js'
import { cancelJob, closeJob, deleteJob, downloadImage } from './history-actions.js'
import { detail } from './history-state.js'
import { fillForm, generateAgain } from './playground-reuse.js'
import type { Job, Upsampling } from './playground-types.js'

const upsampled = (u: Upsampling | undefined): string =>
  !u ? 'asked' : u.applied ? `applied (by the ${u.by ?? 'engine'})` : `not applied${u.reason ? `: ${u.reason}` : ''}`

const seconds = (from: string, to: string): string =>
  `${((new Date(to).getTime() - new Date(from).getTime()) / 1000).toFixed(1)} s`

/** Every setting of the job and what became of it, as label and value. */
export function facts(job: Job): [string, string][] {
  const r = job.request
  const rows: [string, string][] = [
    ['Model', job.model],
    ['Size', r.aspectRatio ? `${r.aspectRatio} (${r.width}×${r.height})` : sizeOf(job)],
    ['Seed', String(job.result?.seed ?? r.seed ?? 'random')],
    ['Images', String(r.numImages)],
    ['Format', r.outputFormat === 'png' ? 'png' : `${r.outputFormat}, quality ${r.outputQuality}`],
    ['Safety tolerance', String(r.safetyTolerance)],
  ]
  if (r.steps !== undefined) rows.push(['Steps', String(r.steps)])
  if (r.guidance !== undefined) rows.push(['Guidance', String(r.guidance)])
  if (r.raw) rows.push(['Raw', 'yes'])
  if (r.promptUpsampling) rows.push(['Prompt upsampling', upsampled(job.result?.upsampling)])
  if (r.imagePrompt) rows.push(['Image prompt', `strength ${r.imagePrompt.strength}`])
  const place = job.queuePosition ? ` (${job.queuePosition} ahead)` : ''
  rows.push(['State', `${job.state}${place}`])
  rows.push(['Engine', job.engine ?? '—'])
  rows.push(['Cost', job.cost.charged ? usd(job.cost.usd) : 'not charged'])
  rows.push(['Created', new Date(job.createdAt).toLocaleString()])
  if (job.startedAt && job.finishedAt) rows.push(['Took', seconds(job.startedAt, job.finishedAt)])
  return rows
}

function Images({ job }: { job: Job }) {
  const images = job.result?.images ?? []
  if (images.length === 0) return <p class="placeholder">{job.state}</p>
  return (
    <div class="detail-images">
      {images.map((image, i) => (
        <figure key={image.url}>
          <a href={image.url} target="_blank" rel="noopener">
            <img src={image.thumbnailUrl ?? image.url} alt={job.request.prompt} />
          </a>
          <figcaption>
            {`${image.width}×${image.height} · ${image.contentType.replace('image/', '')} · `}
            <a
              href={image.url}
              download={`fluxhost-${job.id}-${i + 1}`}
              onClick={(event) => {
                event.preventDefault()
                void downloadImage(job.id, i, `fluxhost-${job.id}-${i + 1}`)
              }}
            >
              Download
            </a>
          </figcaption>
        </figure>
      ))}
    </div>
  )
}

function Body({ job }: { job: Job }) {
  const usedPrompt = job.result?.prompt
  return (
    <>
      <Images job={job} />
      <p class="detail-prompt">{job.request.prompt}</p>
      {usedPrompt && usedPrompt !== job.request.prompt ? (
        <p class="meta">{`The engine was given: ${usedPrompt}`}</p>
      ) : null}
      {job.error ? <p class="reason">{`${job.error.code}: ${job.error.message}`}</p> : null}
      <dl class="facts">
        {facts(job).map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <div class="card-actions">
        <FavouriteButton job={job} />
        <button
          type="button"
          onClick={() => {
            closeJob()
            fillForm(job, { seed: true })
          }}
        >
          Reuse settings
        </button>
        <button
          type="button"
          onClick={() => {
            closeJob()
            generateAgain(job, { seed: true })
          }}
        >
          Re-run
        </button>
        {unfinished(job) ? (
          <button type="button" onClick={() => void cancelJob(job.id)}>
            Cancel
          </button>
        ) : (
          <button type="button" onClick={() => void deleteJob(job)}>
            Delete
          </button>
        )}
      </div>
    </>
  )
}

export function JobDetail() {
  const dialog = useRef<HTMLDialogElement>(null)
  const open = detail.value
  useEffect(() => {
    const node = dialog.current
    if (!node) return
    if (open && !node.open) node.showModal()
    if (!open && node.open) node.close()
  }, [open])
  return (
    <dialog ref={dialog} class="job-detail" aria-labelledby="job-detail-title" onClose={closeJob}>
      <div class="detail-head">
        <h2 id="job-detail-title">{open?.job ? 'Job' : 'Job…'}</h2>
        <code class="meta">{open?.id}</code>
        <button type="button" class="close" onClick={closeJob}>
          Close
        </button>
      </div>
      {open?.error ? (
        <p class="reason" role="alert">
          {open.error}
        </p>
      ) : null}
      {open?.job ? <Body job={open.job} /> : null}
    </dialog>
  )
}
