// The caller's history as a gallery (Preact, with the state in history-state.ts): search,
// filters (model, state, favourites), cards that change as the live stream brings their jobs'
// changes, the next page loaded as the end scrolls into view, and a job's detail view.
import { render } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import { $ } from './common.js'
import { Card } from './gallery-card.js'
import { followJobLinks } from './history-actions.js'
import { cursor, filter, jobs, loadError, loadHistory, models, notice } from './history-state.js'
import { JobDetail } from './job-detail.js'

export { clearHistory, loadHistory, removeFromHistory, showInHistory, unfinishedInHistory } from './history-state.js'

let typing: ReturnType<typeof setTimeout> | undefined

function Filters() {
  return (
    <search class="gallery-filters" aria-label="Filter the history">
      <div>
        <label for="history-search">Search prompts</label>
        <input
          id="history-search"
          type="search"
          maxLength={200}
          autoComplete="off"
          value={filter.prompt.value}
          onInput={(event) => {
            filter.prompt.value = event.currentTarget.value
            // A search waits for a pause in typing.
            clearTimeout(typing)
            typing = setTimeout(() => void loadHistory(), 300)
          }}
        />
      </div>
      <div>
        <label for="history-model">Filter by model</label>
        <select id="history-model" value={filter.model.value} onChange={(event) => choose(filter.model, event)}>
          <option value="">Every model</option>
          {models.value.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label for="history-state">Filter by state</label>
        <select id="history-state" value={filter.state.value} onChange={(event) => choose(filter.state, event)}>
          <option value="">Every state</option>
          <option value="succeeded">Succeeded</option>
          <option value="failed">Failed</option>
          <option value="canceled">Canceled</option>
          <option value="running">Running</option>
          <option value="queued">Queued</option>
        </select>
      </div>
      <label class="check favourites-only">
        <input
          type="checkbox"
          checked={filter.favourites.value}
          onChange={(event) => {
            filter.favourites.value = event.currentTarget.checked
            void loadHistory()
          }}
        />
        Favourites only
      </label>
    </search>
  )
}

function choose(target: { value: string }, event: Event): void {
  target.value = (event.currentTarget as HTMLSelectElement).value
  void loadHistory()
}

/** "Load more", which loads by itself as it comes into view (infinite scroll). */
function More() {
  const button = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    let loading = false
    const observer = new IntersectionObserver(async (entries) => {
      if (loading || !entries.some((entry) => entry.isIntersecting) || !cursor.value) return
      loading = true
      await loadHistory(true)
      loading = false
      // Still in view after a page (a short one, or a search that matched little): observed
      // afresh, the observer says so again, and the next page comes (not after a failure: the
      // button stays, for the user to try again).
      if (button.current && !loadError.value) {
        observer.unobserve(button.current)
        observer.observe(button.current)
      }
    })
    if (button.current) observer.observe(button.current)
    return () => observer.disconnect()
  }, [])
  return (
    <button type="button" id="more" ref={button} hidden={!cursor.value} onClick={() => void loadHistory(true)}>
      Load more
    </button>
  )
}

function History() {
  const list = jobs.value
  return (
    <>
      <h2 id="history-title" tabIndex={-1}>
        History
      </h2>
      <Filters />
      {loadError.value ? (
        <p class="error" role="alert">
          {loadError.value}
        </p>
      ) : null}
      <p id="history-empty" class="hint" hidden={list.length > 0}>
        {notice.value}
      </p>
      <ul id="gallery" class="gallery">
        {list.map((job) => (
          <Card key={job.id} job={job} />
        ))}
      </ul>
      <More />
      <JobDetail />
    </>
  )
}

/** Draws the history into its section, and opens the job a link names (#job=<id>). */
export function setUpHistory(): void {
  render(<History />, $('#history'))
  followJobLinks()
}

/** The models the history can be filtered by (the choice kept when the list is refreshed). */
export function showHistoryModels(list: readonly { id: string; name?: string }[]): void {
  models.value = list.map((m) => ({ id: m.id, name: m.name ?? m.id }))
  if (filter.model.value && !list.some((m) => m.id === filter.model.value)) filter.model.value = ''
}
