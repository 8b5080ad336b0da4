// "Copy as code": the request the form's settings make, in the chosen dialect and language.
import { $, el } from './common.js'
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
  $('#code').replaceChildren(...highlight(snippets(forCode, { baseUrl: location.origin })[dialect][language], language))
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

const KEYWORDS = {
  curl: 'if|then|else|fi|while|do|done|break|set|json|printf|curl',
  python: 'import|from|def|return|while|if|else|for|in|break|print|True|False|None|raise|not|and|or',
  js: 'const|let|await|async|if|else|while|for|of|throw|new|return|break|true|false|null|import|from',
}
const COMMENT = { curl: '#[^\\n]*', python: '#[^\\n]*', js: '//[^\\n]*' }

/**
 * The snippet as text nodes and coloured spans: strings, comments, numbers and keywords. Built
 * as DOM text (never markup), so a prompt in the code can never become part of the page.
 */
export function highlight(code, language) {
  const token = new RegExp(
    `("(?:[^"\\\\\\n]|\\\\.)*"|'(?:[^'\\\\\\n]|\\\\.)*'|\`(?:[^\`\\\\]|\\\\.)*\`)|(${COMMENT[language]})` +
      `|\\b(\\d+(?:\\.\\d+)?)\\b|\\b(${KEYWORDS[language]})\\b`,
    'g',
  )
  const nodes = []
  let at = 0
  for (const match of code.matchAll(token)) {
    if (match.index > at) nodes.push(code.slice(at, match.index))
    const kind = match[1] ? 'tok-str' : match[2] ? 'tok-com' : match[3] ? 'tok-num' : 'tok-key'
    nodes.push(el('span', { class: kind, text: match[0] }))
    at = match.index + match[0].length
  }
  if (at < code.length) nodes.push(code.slice(at))
  return nodes
}
