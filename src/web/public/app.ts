// The playground: settings → POST /api/jobs → its changes over the key's live stream → images;
// the caller's history, kept current by the same stream; the same request as code in every
// dialect. This module wires the parts together: playground-form.ts (fields, settings),
// playground-models.ts (model, size), playground-job.ts (the current job),
// playground-result.tsx (what the result panel shows), playground-history.tsx, playground-code.tsx
// and live.ts (the stream that survives the network).
import { $, getKey, keyForm, usd } from './common.js'
import { connectLive } from './live.js'
import { setUpCode, updateCode } from './playground-code.js'
import { allModels, fields, form, model, onSettingsChange, snapSize, syncOutputs } from './playground-form.js'
import {
  clearHistory,
  loadHistory,
  removeFromHistory,
  setUpHistory,
  showHistoryModels,
  showInHistory,
  unfinishedInHistory,
} from './playground-history.js'
import {
  cancelFollowed,
  dropFollowed,
  followedId,
  onJobsChanged,
  onLiveJob,
  onLiveProgress,
  refreshFollowed,
  resetFollowed,
  submitJob,
} from './playground-job.js'
import { loadModels, markPreset, onModelChange, setUpModels } from './playground-models.js'
import { setUpResult, showConnection } from './playground-result.js'
import { acceptImagePrompts } from './playground-reuse.js'
import type { Job } from './playground-types.js'

/** Generate says what it will cost: the model's price per image times the images asked. */
function showCost() {
  const price = model().priceUsd
  $('#submit').textContent =
    price === undefined ? 'Generate' : `Generate · ${usd(price * Number(fields.numImages.value))}`
}

onSettingsChange(() => {
  syncOutputs()
  updateCode()
  showCost()
})
// Ctrl+Enter (Cmd+Enter on a Mac) generates from anywhere in the form, the prompt included.
form.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault()
    form.requestSubmit()
  }
})
onJobsChanged(showInHistory)

/** The right side's tabs (Result, Code): one panel shown; arrow keys move between the tabs. */
const tabs = [...document.querySelectorAll<HTMLElement>('[role="tab"]')]
function selectTab(tab: HTMLElement) {
  for (const other of tabs) {
    const selected = other === tab
    other.setAttribute('aria-selected', String(selected))
    other.tabIndex = selected ? 0 : -1
    $(`#${other.getAttribute('aria-controls')}`).hidden = !selected
  }
}
for (const [i, tab] of tabs.entries()) {
  tab.addEventListener('click', () => selectTab(tab))
  tab.addEventListener('keydown', (event) => {
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0
    const next = tabs[(i + step + tabs.length) % tabs.length]
    if (!step || !next) return
    selectTab(next)
    next.focus()
  })
}
// A generation shows its result; the size fields show the size it sent (typed, then Ctrl+Enter
// from the field, they were not left, so not snapped yet).
form.addEventListener('submit', () => {
  selectTab($('#tab-result'))
  for (const input of [fields.width, fields.height]) snapSize(input)
  markPreset()
  syncOutputs()
})

let live: ReturnType<typeof connectLive<Job>> | undefined
const startLive = () => {
  if (live) return live.restart()
  live = connectLive<Job>({
    key: getKey,
    onJob: (job) => {
      onLiveJob(job)
      showInHistory(job)
    },
    onProgress: onLiveProgress,
    onDeleted: (jobId) => {
      removeFromHistory(jobId)
      dropFollowed(jobId)
    },
    onReset: () => {
      void refreshFollowed()
      void loadHistory()
    },
    onStatus: showConnection,
    watched: () => [...new Set([followedId(), ...unfinishedInHistory()].filter((id): id is string => Boolean(id)))],
  })
}

form.addEventListener('submit', (event) => void submitJob(event))
$('#cancel').addEventListener('click', () => void cancelFollowed())

$('#dice').addEventListener('click', () => {
  fields.seed.value = String(Math.floor(Math.random() * 2 ** 32))
  updateCode()
})
fields.model.addEventListener('change', onModelChange)
// A size is shown as it will be sent while it is typed (syncOutputs); the field snaps when left.
for (const input of [fields.width, fields.height]) {
  input.addEventListener('input', markPreset)
  input.addEventListener('change', () => {
    snapSize(input)
    markPreset()
    syncOutputs()
    updateCode()
  })
}
form.addEventListener('input', () => {
  syncOutputs()
  updateCode()
  showCost()
})

setUpResult()
setUpModels()
acceptImagePrompts()
syncOutputs()
setUpCode()
showCost()
setUpHistory()
showHistoryModels(allModels())
void loadModels().then(() => {
  showCost()
  showHistoryModels(allModels())
})

keyForm((me) => {
  updateCode()
  // Another key (or none): the job shown was the last key's.
  resetFollowed()
  if (me) startLive()
  if (!me) {
    // No key to follow its jobs with: the stream stops (a new one starts with the next key).
    live?.close()
    live = undefined
    clearHistory('Your jobs appear here once your key is set.')
    return
  }
  void loadHistory()
})
