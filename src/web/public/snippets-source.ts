// What every language's snippet is made of: literals (strings, bodies), comments, titles, the
// key header each dialect documents and the poll interval.
import { type BodyValue, type Dialect, IMAGE_PROMPT, MODELS, type ModelId } from './snippets-settings.js'

/**
 * The source a literal is written for: `json` a JSON body inside a bash single-quoted string,
 * `body` plain JSON (the request body as shown), `py` Python, `js` JavaScript.
 */
export type Lang = 'json' | 'body' | 'py' | 'js'

/** Seconds between polls, as BFL's own samples wait. */
export const POLL_S = 0.5

/** Characters that print as nothing or break lines in an editor: written as escapes. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu

/**
 * A string literal that JSON, JavaScript and Python all read as `value` (JSON's escapes are
 * valid in both languages), with invisible and line-breaking characters escaped too.
 */
export function stringLiteral(value: string, lang: Lang): string {
  return JSON.stringify(value).replace(INVISIBLE, (char) => {
    const code = char.codePointAt(0) ?? 0
    if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`
    if (lang === 'py') return `\\U${code.toString(16).padStart(8, '0')}`
    if (lang === 'js') return `\\u{${code.toString(16)}}`
    const high = Math.floor((code - 0x10000) / 0x400) + 0xd800
    const low = ((code - 0x10000) % 0x400) + 0xdc00
    return `\\u${high.toString(16)}\\u${low.toString(16)}`
  })
}

/** Bash single quotes: nothing inside is special but the quote itself. */
export const shQuote = (value: string): string => `'${String(value).replaceAll("'", "'\\''")}'`

/** An object key: bare in JavaScript where it can be, quoted otherwise. */
export const propertyName = (name: string, lang: Lang): string =>
  lang === 'js' && /^[A-Za-z_$][\w$]*$/.test(name) ? name : stringLiteral(name, lang)

/** How each language names the downloaded image prompt in a body. */
const IMAGE_PROMPT_SOURCE: Record<Lang, string> = {
  json: `"'"$IMAGE_PROMPT"'"`,
  body: '"<the image, base64-encoded>"',
  py: 'image_prompt',
  js: 'imagePrompt',
}

/**
 * A value as source in `lang` (see Lang), indented like json.dumps(indent), JSON.stringify
 * and Prettier.
 */
export function literal(value: BodyValue, lang: Lang, indent = ''): string {
  if (value === IMAGE_PROMPT) return IMAGE_PROMPT_SOURCE[lang]
  if (value === null) return lang === 'py' ? 'None' : 'null'
  if (typeof value === 'boolean') return lang === 'py' ? (value ? 'True' : 'False') : String(value)
  if (typeof value === 'number') return String(value)
  if (typeof value === 'string') {
    const text = stringLiteral(value, lang)
    return lang === 'json' ? text.replaceAll("'", "'\\''") : text
  }
  const entries = Object.entries(value)
  if (entries.length === 0) return '{}'
  const inner = indent + (lang === 'py' ? '    ' : '  ')
  const lines = entries.map(([name, item]) => `${inner}${propertyName(name, lang)}: ${literal(item, lang, inner)}`)
  return `{\n${lines.join(',\n')}\n${indent}}`
}

/** A comment line naming what the dialect cannot say; reasons never carry user text. */
export const omittedNote = (reasons: string[], mark: string): string[] =>
  reasons.length === 0
    ? []
    : [`${mark} Not expressible in this dialect (left out or changed): ${reasons.join('; ').replace(/\s+/g, ' ')}`]

export const TITLES: Record<Dialect, (model: ModelId) => string> = {
  bfl: (model) => `${MODELS[model]} through BFL's API: submit, poll get_result, print the image URL.`,
  seaart: () => 'FLUX 1.1 [pro] through the SeaArt-style queue: create a task, poll its status, print the image URL.',
  apiframe: () => "FLUX 1.1 [pro] through Apiframe's v2 API: generate, poll the job, print the image URL.",
  aiml: () => "FLUX 1.1 [pro] through AIML's images API: one synchronous call, print the image URL.",
}

/** How a dialect is given the key: the header, and whether its value is `Bearer <key>`. */
export interface Auth {
  header: string
  bearer: boolean
  /** The header as a bash word, the key read from $KEY. */
  sh: string
}

/** How each dialect is usually given the key (all four take any of the three headers). */
export const AUTH: Record<Dialect, Auth> = {
  bfl: { header: 'x-key', bearer: false, sh: '"x-key: $KEY"' },
  seaart: { header: 'Authorization', bearer: true, sh: '"Authorization: Bearer $KEY"' },
  apiframe: { header: 'X-API-Key', bearer: false, sh: '"X-API-Key: $KEY"' },
  aiml: { header: 'Authorization', bearer: true, sh: '"Authorization: Bearer $KEY"' },
}

/** Where every snippet reads the API key: an environment variable, never the key itself in the code. */
export const KEY_VARIABLE = 'FLUXHOST_KEY'
