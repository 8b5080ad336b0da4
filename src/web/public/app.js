// The playground: settings → POST /api/jobs → progress over /api/jobs/:id/events → images;
// the caller's history; the same request as code in every dialect. This module wires the
// parts together: playground-form.js (fields, settings), playground-models.js (model, size),
// playground-job.js (the current job), playground-history.js and playground-code.js.
import { $, keyForm } from './common.js'
import { copyCode, updateCode } from './playground-code.js'
import { fields, form, onSettingsChange, syncOutputs } from './playground-form.js'
import { loadHistory } from './playground-history.js'
import { cancelFollowed, onJobsChanged, submitJob } from './playground-job.js'
import { loadModels, markPreset, onModelChange, setUpModels } from './playground-models.js'

onSettingsChange(updateCode)
onJobsChanged(() => void loadHistory())

form.addEventListener('submit', submitJob)
$('#cancel').addEventListener('click', cancelFollowed)
$('#more').addEventListener('click', () => void loadHistory(true))
$('#copy-code').addEventListener('click', copyCode)

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

setUpModels()
syncOutputs()
void loadModels()

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
