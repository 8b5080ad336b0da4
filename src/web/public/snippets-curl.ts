// The bash snippet: curl for the requests, python3 to read the JSON answers.
import type { Plan } from './snippets-plan.js'
import type { Dialect } from './snippets-settings.js'
import { AUTH, KEY_VARIABLE, literal, omittedNote, POLL_S, shQuote, TITLES } from './snippets-source.js'

export function curlSnippet(dialect: Dialect, request: Plan, { baseUrl }: { baseUrl: string }): string {
  const auth = AUTH[dialect].sh
  const curl = `curl -sS "$BASE${request.path}" -H ${auth} -H "Content-Type: application/json" --data-binary @-`
  const post = `printf '%s' "$BODY" | ${curl}`
  const lines = [
    '#!/usr/bin/env bash',
    `# ${TITLES[dialect](request.model)}`,
    '# Needs curl, and python3 to read the JSON answers.',
    ...omittedNote(request.reasons, '#'),
    'set -euo pipefail',
    `BASE=${shQuote(baseUrl)}`,
    `KEY="\${${KEY_VARIABLE}:?set ${KEY_VARIABLE} to your fluxhost API key}"`,
    '',
    '# Prints one field of the JSON on stdin (`json a 0 b` is doc["a"][0]["b"]); ' +
      'without it, the whole answer to stderr.',
    "json() { python3 -c 'import json, sys",
    'doc = value = json.load(sys.stdin)',
    'try:',
    '    for name in sys.argv[1:]:',
    '        value = value[int(name)] if isinstance(value, list) else value[name]',
    'except (KeyError, IndexError, TypeError, ValueError):',
    '    sys.exit(json.dumps(doc))',
    'print(value)\' "$@"; }',
    '',
  ]
  if (request.imagePrompt && !request.imagePrompt.inline) {
    lines.push(`IMAGE_PROMPT=$(curl -fsSL ${shQuote(request.imagePrompt.url)} | base64 | tr -d '\\n')`)
  }
  lines.push(`BODY=${"'"}${literal(request.body, 'json')}${"'"}`)

  if (dialect === 'bfl') {
    lines.push(
      `POLLING_URL=$(${post} | json polling_url)`,
      'while :; do',
      `  RESULT=$(curl -sS "$POLLING_URL" -H ${auth})`,
      '  STATUS=$(json status <<< "$RESULT")',
      '  [ "$STATUS" = Pending ] || break',
      `  sleep ${POLL_S}`,
      'done',
      '[ "$STATUS" = Ready ] || { echo "$RESULT" >&2; exit 1; }',
      'json result sample <<< "$RESULT"',
    )
  } else if (dialect === 'seaart') {
    lines.push(
      `TASK=$(${post})`,
      'STATUS_URL=$(json status_url <<< "$TASK")',
      'RESPONSE_URL=$(json response_url <<< "$TASK")',
      'while :; do',
      `  STATUS=$(curl -sS "$STATUS_URL" -H ${auth} | json status)`,
      `  case "$STATUS" in queued|in_progress) sleep ${POLL_S} ;; *) break ;; esac`,
      'done',
      `RESULT=$(curl -sS "$RESPONSE_URL" -H ${auth})`,
      '[ "$STATUS" = completed ] || { echo "$RESULT" >&2; exit 1; }',
      'json output 0 content 0 url <<< "$RESULT"',
    )
  } else if (dialect === 'apiframe') {
    lines.push(
      `JOB_ID=$(${post} | json jobId)`,
      'while :; do',
      `  JOB=$(curl -sS "$BASE/v2/jobs/$JOB_ID" -H ${auth})`,
      '  STATUS=$(json status <<< "$JOB")',
      `  case "$STATUS" in QUEUED|PROCESSING) sleep ${POLL_S} ;; *) break ;; esac`,
      'done',
      '[ "$STATUS" = COMPLETED ] || { echo "$JOB" >&2; exit 1; }',
      'json result images 0 url <<< "$JOB"',
    )
  } else {
    lines.push('# The answer comes when the images are ready.', `${post} | json images 0 url`)
  }
  return `${lines.join('\n')}\n`
}
