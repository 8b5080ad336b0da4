/**
 * Code samples for the playground: the request its current settings make, in each of the
 * four dialects fluxhost speaks, as a bash script (curl, with python3 to read JSON), a Python
 * script (`requests`) and a Node ≥ 20 module (global fetch, top-level await; save as .mjs).
 * Each one creates the job, waits for it (polling as the dialect documents, or AIML's
 * synchronous call) and prints the first image's URL as its last line.
 *
 * A dialect that cannot express a setting leaves it out of its body (the server would
 * refuse it, or it has no such field) and `unsupported` says so; the bodies follow the request
 * schemas under src/api/dialects/. Plain JavaScript with no dependencies: the page loads it as a
 * module and the tests import it from Node. This module is the entry point; the parts are
 * snippets-settings.js (checks all dialects share), snippets-plan.js (each dialect's request),
 * snippets-source.js (literals and comments) and snippets-curl/python/js.js (one per language).
 *
 * settings: { model, prompt, width, height, aspectRatio, seed, outputFormat, quality,
 *             numImages, safetyTolerance, imagePrompt: null | { url, strength } }
 */
import { curlSnippet } from './snippets-curl.js'
import { jsSnippet } from './snippets-js.js'
import { plan } from './snippets-plan.js'
import { pythonSnippet } from './snippets-python.js'

export const DIALECTS = ['bfl', 'seaart', 'apiframe', 'aiml']

/** Null when the dialect can express every setting, else why not (settings it leaves out). */
export function unsupported(settings, dialect) {
  const { reasons } = plan(settings, dialect)
  return reasons.length === 0 ? null : reasons.join('; ')
}

/**
 * The request `settings` make, in every dialect: `{ bfl: { curl, python, js }, seaart, apiframe,
 * aiml }`. `baseUrl` is written into the code as it is; the key is read from $FLUXHOST_KEY when
 * the code runs (KEY_VARIABLE), so no key is ever in the code a page shows or a user pastes.
 */
export function snippets(settings, { baseUrl }) {
  const target = { baseUrl: String(baseUrl).replace(/\/+$/, '') }
  const out = {}
  for (const dialect of DIALECTS) {
    const request = plan(settings, dialect)
    out[dialect] = {
      curl: curlSnippet(dialect, request, settings.model, target),
      python: pythonSnippet(dialect, request, settings.model, target),
      js: jsSnippet(dialect, request, settings.model, target),
    }
  }
  return out
}
