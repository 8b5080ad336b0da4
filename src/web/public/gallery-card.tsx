// One card of the history: the image (opening the job's detail view), the prompt, the settings
// in a line, the state, and what can be done to the job now.
import { usd } from './common.js'
import { cancelJob, deleteJob, openJob, setFavourite } from './history-actions.js'
import { marking } from './history-state.js'
import { follow } from './playground-job.js'
import { generateAgain } from './playground-reuse.js'
import type { Job } from './playground-types.js'

export const unfinished = (job: Job): boolean => job.state === 'queued' || job.state === 'running'

/** A job's size as asked: an aspect ratio (ultra) or width × height. */
export const sizeOf = (job: Job): string => job.request.aspectRatio ?? `${job.request.width}×${job.request.height}`

/** A card's status line: state, engine, cost and when it was made. */
function status(job: Job): string {
  const engine = job.engine ? ` · ${job.engine}` : ''
  const cost = job.cost?.charged ? ` · ${usd(job.cost.usd)}` : ''
  return `${job.state}${engine}${cost} · ${new Date(job.createdAt).toLocaleString()}`
}

/** The favourite toggle: a star, pressed when the job is one. */
export function FavouriteButton({ job }: { job: Job }) {
  const on = Boolean(job.favourite)
  return (
    <button
      type="button"
      class="favourite"
      aria-pressed={on ? 'true' : 'false'}
      disabled={marking.value.has(job.id)}
      aria-label={`Favourite: ${job.request.prompt}`}
      title={on ? 'A favourite: click to unmark' : 'Mark as a favourite'}
      onClick={() => void setFavourite(job, !on)}
    >
      {on ? '★' : '☆'}
    </button>
  )
}

export function Card({ job }: { job: Job }) {
  const image = job.result?.images?.[0]
  const running = unfinished(job)
  const prompt = job.request.prompt
  return (
    <li class="card" data-job={job.id} data-state={job.state} data-favourite={job.favourite ? 'true' : undefined}>
      {/* The name starts with what shows: the image's "Open", or the state of a job without one. */}
      <button
        type="button"
        class="open"
        aria-label={image ? `Open: ${prompt}` : `${job.state} — Open: ${prompt}`}
        onClick={() => void openJob(job.id)}
      >
        {image ? (
          <img src={image.thumbnailUrl ?? image.url} alt={prompt} loading="lazy" />
        ) : (
          <span class="placeholder">{job.state}</span>
        )}
      </button>
      <p class="prompt">{prompt}</p>
      <p class="meta">{`${job.model} · ${sizeOf(job)} · seed ${job.result?.seed ?? job.request.seed ?? 'random'}`}</p>
      <p class="meta">{status(job)}</p>
      {/* Why it did not succeed, as the API said it. */}
      {job.error ? <p class="meta reason">{job.error.message}</p> : null}
      <div class="card-actions">
        <FavouriteButton job={job} />
        <button type="button" aria-label={`Re-run: ${prompt}`} onClick={() => generateAgain(job, { seed: true })}>
          Re-run
        </button>
        {running ? (
          <button type="button" aria-label={`Cancel: ${prompt}`} onClick={() => void cancelJob(job.id)}>
            Cancel
          </button>
        ) : null}
        {running ? (
          <button type="button" onClick={() => follow(job)}>
            Watch
          </button>
        ) : (
          <button type="button" aria-label={`Delete: ${prompt}`} onClick={() => void deleteJob(job)}>
            Delete
          </button>
        )}
      </div>
    </li>
  )
}
