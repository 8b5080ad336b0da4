// "Copy as code": the request the form's settings make, in the chosen dialect and language.
import { $ } from './common.js'
import { settings } from './playground-form.js'
import { snippets, unsupported } from './snippets.js'

export function updateCode() {
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
  $('#code').textContent = snippets(forCode, { baseUrl: location.origin })[dialect][language]
}

export async function copyCode() {
  try {
    await navigator.clipboard.writeText($('#code').textContent)
    $('#copy-code').textContent = 'Copied'
  } catch {
    $('#copy-code').textContent = 'Select and copy'
  }
  setTimeout(() => ($('#copy-code').textContent = 'Copy'), 1500)
}
