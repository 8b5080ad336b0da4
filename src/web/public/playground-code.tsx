// "Copy as code" (Preact): the request the form's settings make, in the chosen dialect and
// language (the request body itself first: what any client sends). It is drawn again whenever
// the settings change (updateCode, which app.ts calls from playground-form.ts's onSettingsChange).
import { signal } from '@preact/signals'
import { type ComponentChildren, render } from 'preact'
import { $, announce } from './common.js'
import { settings } from './playground-form.js'
import { type Dialect, isDialect, isLanguage, type Language, type Settings, snippets, unsupported } from './snippets.js'

const EXAMPLE_PROMPT = 'A clean product photo of a red apple on a white table, soft studio lighting.'
/** Where the code puts an uploaded image: the file stays on this computer. */
const EXAMPLE_IMAGE = 'https://example.com/your-image.jpg'

/** Counts the changes of the form's settings: the panel reads them again at each. */
const revision = signal(0)
const dialect = signal<Dialect>('bfl')
const language = signal<Language>('body')
/** Copy's text: "Copied" (or what to do instead) for a moment after a click. */
const copyLabel = signal('Copy')

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

/** The settings changed: the panel shows the request they make now. */
export function updateCode(): void {
  revision.value++
}

let copiedTimer: ReturnType<typeof setTimeout> | undefined

/** Copies what the panel shows (the key is never in it: the code reads $FLUXHOST_KEY). */
export async function copyCode(): Promise<void> {
  try {
    // The request the settings make now (the panel's redraw may be a frame behind an edit).
    await navigator.clipboard.writeText(shownCode().code)
    copyLabel.value = 'Copied'
    announce('Code copied.')
  } catch {
    copyLabel.value = 'Select and copy'
  }
  clearTimeout(copiedTimer)
  copiedTimer = setTimeout(() => {
    copyLabel.value = 'Copy'
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
 * The snippet as text and coloured spans: strings, comments, numbers and keywords. Drawn as DOM
 * text (never markup), so a prompt in the code can never become part of the page. The request
 * body's head (method, path, headers) is plain but for the method; its JSON is coloured.
 */
export function highlight(code: string, language: Language): ComponentChildren[] {
  if (language === 'body') {
    const split = code.indexOf('\n\n')
    const head = split < 0 ? code : code.slice(0, split + 2)
    const method = /^[A-Z]+/.exec(head)?.[0] ?? ''
    return [
      ...(method ? [<span class="tok-key">{method}</span>] : []),
      head.slice(method.length),
      ...(split < 0 ? [] : tokens(code.slice(split + 2), language)),
    ]
  }
  return tokens(code, language)
}

function tokens(code: string, language: Language): ComponentChildren[] {
  const token = new RegExp(
    `("(?:[^"\\\\\\n]|\\\\.)*"|'(?:[^'\\\\\\n]|\\\\.)*'|\`(?:[^\`\\\\]|\\\\.)*\`)|(${COMMENT[language]})` +
      `|\\b(\\d+(?:\\.\\d+)?)\\b|\\b(${KEYWORDS[language]})\\b`,
    'g',
  )
  const nodes: ComponentChildren[] = []
  let at = 0
  for (const match of code.matchAll(token)) {
    if (match.index > at) nodes.push(code.slice(at, match.index))
    const kind = match[1] ? 'tok-str' : match[2] ? 'tok-com' : match[3] ? 'tok-num' : 'tok-key'
    nodes.push(<span class={kind}>{match[0]}</span>)
    at = match.index + match[0].length
  }
  if (at < code.length) nodes.push(code.slice(at))
  return nodes
}

/** The request the settings make in the chosen dialect and language, and what it cannot say. */
function shownCode(): { code: string; note: string } {
  // (Read to draw again when the settings change: they are read from the form itself.)
  revision.value
  const forCode = codeSettings()
  const code = snippets(forCode, { baseUrl: location.origin })[dialect.value][language.value]
  const notes: string[] = []
  const reason = unsupported(forCode, dialect.value)
  if (reason) notes.push(reason)
  if (forCode.imagePrompt && code.includes('your-image.jpg'))
    notes.push("The uploaded image is not in the code: put your image's URL where it says your-image.jpg.")
  else if (forCode.imagePrompt && code.includes('base64-encoded>'))
    notes.push('The uploaded image is not in the body: put it there base64-encoded, where the body says so.')
  return { code, note: notes.join(' ') }
}

function CodePanel() {
  const { code, note } = shownCode()
  return (
    <>
      <div class="row code-bar">
        <div>
          <label for="code-dialect">API</label>
          <select
            id="code-dialect"
            value={dialect.value}
            onChange={(event) => {
              const chosen = event.currentTarget.value
              dialect.value = isDialect(chosen) ? chosen : 'bfl'
            }}
          >
            <option value="bfl">BFL</option>
            <option value="seaart">SeaArt queue</option>
            <option value="apiframe">Apiframe v2</option>
            <option value="aiml">AIML API</option>
          </select>
        </div>
        <div>
          <label for="code-language">Language</label>
          <select
            id="code-language"
            value={language.value}
            onChange={(event) => {
              const chosen = event.currentTarget.value
              language.value = isLanguage(chosen) ? chosen : 'body'
            }}
          >
            <option value="body">Request body (JSON)</option>
            <option value="curl">curl</option>
            <option value="python">Python</option>
            <option value="js">JavaScript</option>
          </select>
        </div>
        <button type="button" id="copy-code" onClick={() => void copyCode()}>
          {copyLabel.value}
        </button>
      </div>
      <p id="code-note" class="hint">
        {note}
      </p>
      {/* Focusable, so that keys scroll a long snippet; named by the panel's heading, as before. */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the code scrolls in its box; keys scroll it too */}
      {/* biome-ignore lint/a11y/useAriaPropsSupportedByRole: the focused code is announced by its heading */}
      <pre tabIndex={0} aria-labelledby="code-title">
        <code id="code">{highlight(code, language.value)}</code>
      </pre>
    </>
  )
}

/** Draws the code panel into its place (under its heading and hint). */
export function setUpCode(): void {
  render(<CodePanel />, $('#code-view'))
}
