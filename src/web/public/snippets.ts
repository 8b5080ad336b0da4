/**
 * Code samples for the playground: the request its current settings make, in each of the
 * four dialects fluxhost speaks, as the HTTP request itself (method, path, key header and JSON
 * body), a bash script (curl, with python3 to read JSON), a Python script (`requests`) and a
 * Node ≥ 20 module (global fetch, top-level await; save as .mjs). Each script creates the job,
 * waits for it (polling as the dialect documents, or AIML's synchronous call) and prints the
 * first image's URL as its last line.
 *
 * A dialect that cannot express a setting leaves it out of its body (the server would
 * refuse it, or it has no such field) and `unsupported` says so; the bodies follow the request
 * schemas under src/api/dialects/. No dependencies and no DOM: the page bundles it and the tests
 * import it from Node. This module is the entry point; the parts are snippets-settings.ts (the
 * Settings type and the checks all dialects share), snippets-plan.ts (each dialect's request),
 * snippets-source.ts (literals and comments) and snippets-body/curl/python/js.ts (one per language).
 */
import { bodySnippet } from './snippets-body.js'
import { curlSnippet } from './snippets-curl.js'
import { jsSnippet } from './snippets-js.js'
import { plan } from './snippets-plan.js'
import { pythonSnippet } from './snippets-python.js'
import type { Dialect, Settings } from './snippets-settings.js'

export type { Dialect, Settings } from './snippets-settings.js'

export const DIALECTS: readonly Dialect[] = ['bfl', 'seaart', 'apiframe', 'aiml']
/** `body` is the create request itself; the others are programs that run it to the end. */
export const LANGUAGES = ['body', 'curl', 'python', 'js'] as const
export type Language = (typeof LANGUAGES)[number]

export const isDialect = (value: string): value is Dialect => (DIALECTS as readonly string[]).includes(value)
export const isLanguage = (value: string): value is Language => (LANGUAGES as readonly string[]).includes(value)

/** Null when the dialect can express every setting, else why not (settings it leaves out). */
export function unsupported(settings: Settings, dialect: Dialect): string | null {
  const { reasons } = plan(settings, dialect)
  return reasons.length === 0 ? null : reasons.join('; ')
}

/**
 * The request `settings` make, in every dialect: `{ bfl: { body, curl, python, js }, seaart,
 * apiframe, aiml }`. `baseUrl` is written into the code as it is; the key is read from
 * $FLUXHOST_KEY when the code runs (KEY_VARIABLE), so no key is ever in the code a page shows
 * or a user pastes.
 */
export function snippets(
  settings: Settings,
  { baseUrl }: { baseUrl: string },
): Record<Dialect, Record<Language, string>> {
  const target = { baseUrl: String(baseUrl).replace(/\/+$/, '') }
  const one = (dialect: Dialect): Record<Language, string> => {
    const request = plan(settings, dialect)
    return {
      body: bodySnippet(dialect, request),
      curl: curlSnippet(dialect, request, target),
      python: pythonSnippet(dialect, request, target),
      js: jsSnippet(dialect, request, target),
    }
  }
  return { bfl: one('bfl'), seaart: one('seaart'), apiframe: one('apiframe'), aiml: one('aiml') }
}
