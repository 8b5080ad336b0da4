// "Copy as code": the request the form's settings make, in the chosen dialect and language
// (the request body itself first: what any client sends).
import { $, el } from './common.js'
import { settings } from './playground-form.js'
import { isDialect, isLanguage, type Language, type Settings, snippets, unsupported } from './snippets.js'

const EXAMPLE_PROMPT = 'A clean product photo of a red apple on a white table, soft studio lighting.'
/** Where the code puts an uploaded image: the file stays on this computer. */
const EXAMPLE_IMAGE = 'https://example.com/your-image.jpg'

/** The form's settings as the snippets take them: an example prompt if none, a URL for the file. */
function codeSettings(): Settings {
  const s = settings()
  return {
    model: s.model,
    prompt: s.prompt || EXAMPLE_PROMPT,
    width: s.width,
    height: s.height,
    aspectRatio: s.aspectRatio,
    seed: s.seed,
    outputFormat: s.outputFormat,
    quality: s.quality,
    numImages: s.numImages,
    safetyTolerance: s.safetyTolerance,
    promptUpsampling: s.promptUpsampling,
    steps: s.steps,
    guidance: s.guidance,
    imagePrompt: s.imagePrompt ? { url: EXAMPLE_IMAGE, strength: s.imagePrompt.strength } : null,
  }
}

export function updateCode(): void {
  const forCode = codeSettings()
  const chosenDialect = $<HTMLSelectElement>('#code-dialect').value
  const chosenLanguage = $<HTMLSelectElement>('#code-language').value
  const dialect = isDialect(chosenDialect) ? chosenDialect : 'bfl'
  const language = isLanguage(chosenLanguage) ? chosenLanguage : 'body'
  const code = snippets(forCode, { baseUrl: location.origin })[dialect][language]
  const notes: string[] = []
  const reason = unsupported(forCode, dialect)
  if (reason) notes.push(reason)
  if (forCode.imagePrompt && code.includes('your-image.jpg'))
    notes.push("The uploaded image is not in the code: put your image's URL where it says your-image.jpg.")
  else if (forCode.imagePrompt && code.includes('base64-encoded>'))
    notes.push('The uploaded image is not in the body: put it there base64-encoded, where the body says so.')
  $('#code-note').textContent = notes.join(' ')
  $('#code').replaceChildren(...highlight(code, language))
}

let copiedTimer: ReturnType<typeof setTimeout> | undefined

/** Copies what the panel shows (the key is never in it: the code reads $FLUXHOST_KEY). */
export async function copyCode(): Promise<void> {
  const button = $('#copy-code')
  try {
    await navigator.clipboard.writeText($('#code').textContent ?? '')
    button.textContent = 'Copied'
  } catch {
    button.textContent = 'Select and copy'
  }
  clearTimeout(copiedTimer)
  copiedTimer = setTimeout(() => {
    button.textContent = 'Copy'
  }, 1500)
}

const KEYWORDS: Record<Language, string> = {
  body: 'true|false|null',
  curl: 'if|then|else|fi|while|do|done|break|set|json|printf|curl',
  python: 'import|from|def|return|while|if|else|for|in|break|print|True|False|None|raise|not|and|or',
  js: 'const|let|await|async|if|else|while|for|of|throw|new|return|break|true|false|null|import|from',
}
/** JSON has no comments: `(?!)` matches nothing. */
const COMMENT: Record<Language, string> = { body: '(?!)', curl: '#[^\\n]*', python: '#[^\\n]*', js: '//[^\\n]*' }

/**
 * The snippet as text nodes and coloured spans: strings, comments, numbers and keywords. Built
 * as DOM text (never markup), so a prompt in the code can never become part of the page. The
 * request body's head (method, path, headers) is plain but for the method; its JSON is coloured.
 */
export function highlight(code: string, language: Language): (string | HTMLElement)[] {
  if (language === 'body') {
    const split = code.indexOf('\n\n')
    const head = split < 0 ? code : code.slice(0, split + 2)
    const method = /^[A-Z]+/.exec(head)?.[0] ?? ''
    return [
      ...(method ? [el('span', { class: 'tok-key', text: method })] : []),
      head.slice(method.length),
      ...(split < 0 ? [] : tokens(code.slice(split + 2), language)),
    ]
  }
  return tokens(code, language)
}

function tokens(code: string, language: Language): (string | HTMLElement)[] {
  const token = new RegExp(
    `("(?:[^"\\\\\\n]|\\\\.)*"|'(?:[^'\\\\\\n]|\\\\.)*'|\`(?:[^\`\\\\]|\\\\.)*\`)|(${COMMENT[language]})` +
      `|\\b(\\d+(?:\\.\\d+)?)\\b|\\b(${KEYWORDS[language]})\\b`,
    'g',
  )
  const nodes: (string | HTMLElement)[] = []
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
