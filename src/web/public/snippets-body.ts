// The request body view: the create request as HTTP, for a reader who brings their own client.
// The body is the one the other snippets send, as JSON; the key is named, never written.
import type { Plan } from './snippets-plan.js'
import type { Dialect } from './snippets-settings.js'
import { AUTH, KEY_VARIABLE, literal } from './snippets-source.js'

/** Every dialect's create request is a POST; the polls that follow are in the other snippets. */
export const METHOD = 'POST'

/**
 * The method and path, the key header (reading $FLUXHOST_KEY), the content type, a blank
 * line and the JSON body, pretty-printed like JSON.stringify(body, null, 2).
 */
export function bodySnippet(dialect: Dialect, request: Plan): string {
  const auth = AUTH[dialect]
  const key = `$${KEY_VARIABLE}`
  return [
    `${METHOD} ${request.path}`,
    `${auth.header}: ${auth.bearer ? `Bearer ${key}` : key}`,
    'Content-Type: application/json',
    '',
    literal(request.body, 'body'),
    '',
  ].join('\n')
}
