// The caller's history: a page of cards at a time, each with Re-run, Watch, Cancel or Delete.
// Cards change as the live stream brings their jobs' changes (showInHistory); a new job comes
// in at the top, and the pages already loaded stay.
import { $, api, el, getKey, stateRank, usd } from './common.js'
import { dropFollowed, follow } from './playground-job.js'
import { generateAgain } from './playground-reuse.js'

let cursor = null

/** A card's status line: state, engine, cost and when it was made. */
function status(job) {
  const engine = job.engine ? ` · ${job.engine}` : ''
  const cost = job.cost?.charged ? ` · ${usd(job.cost.usd)}` : ''
  return `${job.state}${engine}${cost} · ${new Date(job.createdAt).toLocaleString()}`
}

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
    el('p', { class: 'meta', text: status(job) }),
    // Why it did not succeed, as the API said it.
    job.error ? el('p', { class: 'meta reason', text: job.error.message }) : null,
    el(
      'div',
      { class: 'card-actions' },
      el('button', {
        type: 'button',
        text: 'Re-run',
        'aria-label': `Re-run: ${job.request.prompt}`,
        onclick: () => generateAgain(job, { seed: true }),
      }),
      running
        ? el('button', {
            type: 'button',
            text: 'Cancel',
            'aria-label': `Cancel: ${job.request.prompt}`,
            onclick: () => cancelJob(job.id),
          })
        : null,
      running ? el('button', { type: 'button', text: 'Watch', onclick: () => follow(job) }) : null,
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

/**
 * Shows a change of one of the key's jobs: its card is redrawn in place; a job the history has
 * no card of, made since it was loaded, comes in at the top.
 */
export function showInHistory(job) {
  const gallery = $('#gallery')
  const existing = gallery.querySelector(`li[data-job="${CSS.escape(job.id)}"]`)
  if (existing) {
    // (A create's answer can come after the stream's news of the job running.)
    if (stateRank(existing.dataset.state) <= stateRank(job.state)) existing.replaceWith(card(job))
  } else {
    // With a filter set, a new job waits for the next load (it may not match, or not yet).
    if (filters().size > 0) return
    const newest = gallery.firstElementChild?.dataset.job
    if (newest !== undefined && job.id < newest) return
    gallery.prepend(card(job))
    $('#history-empty').hidden = true
  }
}

/** The ids of the unfinished jobs the history shows (polled while the live stream is down). */
export const unfinishedInHistory = () =>
  [...$('#gallery').querySelectorAll('li[data-state="queued"], li[data-state="running"]')].map((li) => li.dataset.job)

/** The history's filters as query parameters (empty when none is set). */
function filters() {
  const query = new URLSearchParams()
  const prompt = $('#history-search').value.trim()
  if (prompt) query.set('prompt', prompt)
  if ($('#history-model').value) query.set('model', $('#history-model').value)
  if ($('#history-state').value) query.set('state', $('#history-state').value)
  return query
}

// Each load is numbered: the answer of an older one (filters changed meanwhile) is dropped.
let loads = 0

// A fresh load (not "more") in flight: the next page waits for it, or it would page the old list.
let fresh = false

export async function loadHistory(more = false) {
  if (!getKey()) return
  if (more && fresh) return
  if (!more) {
    fresh = true
    cursor = null
  }
  const query = filters()
  query.set('limit', '12')
  if (more && cursor) query.set('cursor', cursor)
  const load = ++loads
  try {
    const page = await api(`/api/jobs?${query}`)
    if (load !== loads) return
    cursor = page.nextCursor
    const gallery = $('#gallery')
    const cards = page.data.map(card)
    if (more) gallery.append(...cards)
    else gallery.replaceChildren(...cards)
    $('#history-empty').hidden = gallery.children.length > 0
    $('#more').hidden = !cursor
  } catch (e) {
    if (load !== loads) return
    $('#history-empty').hidden = false
    $('#history-empty').textContent = e.message
  } finally {
    if (load === loads && !more) fresh = false
  }
}

async function cancelJob(id) {
  try {
    showInHistory(await api(`/api/jobs/${id}/cancel`, { method: 'POST' }))
  } catch (e) {
    $('#form-error').textContent = e.message
  }
}

async function deleteJob(job) {
  if (!confirm(`Delete this job and its images? "${job.request.prompt.slice(0, 80)}"`)) return
  try {
    await api(`/api/jobs/${job.id}`, { method: 'DELETE' })
  } catch (e) {
    $('#form-error').textContent = e.message
    return
  }
  $('#gallery')
    .querySelector(`li[data-job="${CSS.escape(job.id)}"]`)
    ?.remove()
  $('#history-empty').hidden = $('#gallery').children.length > 0
  dropFollowed(job.id)
}

/**
 * The history's filters and its infinite scroll: a search (after a pause in typing), a model and
 * a state reload it; the next page loads when "Load more" comes into view.
 */
export function setUpHistory() {
  let typing
  $('#history-search').addEventListener('input', () => {
    clearTimeout(typing)
    typing = setTimeout(() => void loadHistory(), 300)
  })
  for (const id of ['#history-model', '#history-state']) $(id).addEventListener('change', () => void loadHistory())
  let loading = false
  new IntersectionObserver(async (entries) => {
    if (loading || !entries.some((entry) => entry.isIntersecting) || $('#more').hidden) return
    loading = true
    await loadHistory(true)
    loading = false
  }).observe($('#more'))
}

/** The models the history can be filtered by (the choice kept when the list is refreshed). */
export function showHistoryModels(models) {
  const select = $('#history-model')
  const chosen = select.value
  select.replaceChildren(
    el('option', { value: '', text: 'Every model' }),
    ...models.map((m) => el('option', { value: m.id, text: m.name })),
  )
  select.value = models.some((m) => m.id === chosen) ? chosen : ''
}
