// The Python snippet: requests for the calls, the standard library for the rest.
import type { Plan } from './snippets-plan.js'
import type { Dialect } from './snippets-settings.js'
import { AUTH, KEY_VARIABLE, literal, omittedNote, POLL_S, stringLiteral, TITLES } from './snippets-source.js'

export function pythonSnippet(dialect: Dialect, request: Plan, { baseUrl }: { baseUrl: string }): string {
  const auth = AUTH[dialect]
  const stdlib = [
    ...(request.imagePrompt && !request.imagePrompt.inline ? ['base64'] : []),
    'os',
    ...(dialect === 'aiml' ? [] : ['time']),
  ]
  const lines = [
    `# ${TITLES[dialect](request.model)}`,
    '# Needs Python 3 and requests (pip install requests).',
    ...omittedNote(request.reasons, '#'),
    ...stdlib.map((name) => `import ${name}`),
    '',
    'import requests',
    '',
    `BASE = ${stringLiteral(baseUrl, 'py')}`,
    `KEY = os.environ[${stringLiteral(KEY_VARIABLE, 'py')}]  # your fluxhost API key`,
    `HEADERS = {${stringLiteral(auth.header, 'py')}: ${auth.bearer ? '"Bearer " + KEY' : 'KEY'}}`,
    '',
  ]
  if (request.imagePrompt && !request.imagePrompt.inline) {
    lines.push(
      `image = requests.get(${stringLiteral(request.imagePrompt.url, 'py')})`,
      'image.raise_for_status()',
      'image_prompt = base64.b64encode(image.content).decode()',
    )
  }
  lines.push(
    `body = ${literal(request.body, 'py')}`,
    `response = requests.post(f"{BASE}${request.path}", headers=HEADERS, json=body)`,
    'if not response.ok:',
    '    raise SystemExit(f"{response.status_code}: {response.text}")',
  )
  if (dialect === 'bfl') {
    lines.push(
      'polling_url = response.json()["polling_url"]',
      'while True:',
      '    result = requests.get(polling_url, headers=HEADERS).json()',
      '    if result["status"] != "Pending":',
      '        break',
      `    time.sleep(${POLL_S})`,
      'if result["status"] != "Ready":',
      '    raise SystemExit(result)',
      'print(result["result"]["sample"])',
    )
  } else if (dialect === 'seaart') {
    lines.push(
      'task = response.json()',
      'while requests.get(task["status_url"], headers=HEADERS).json()["status"] in ("queued", "in_progress"):',
      `    time.sleep(${POLL_S})`,
      'result = requests.get(task["response_url"], headers=HEADERS).json()',
      'if result["status"] != "completed":',
      '    raise SystemExit(result.get("error") or result)',
      'print(result["output"][0]["content"][0]["url"])',
    )
  } else if (dialect === 'apiframe') {
    lines.push(
      'job_id = response.json()["jobId"]',
      'while True:',
      '    job = requests.get(f"{BASE}/v2/jobs/{job_id}", headers=HEADERS).json()',
      '    if job["status"] not in ("QUEUED", "PROCESSING"):',
      '        break',
      `    time.sleep(${POLL_S})`,
      'if job["status"] != "COMPLETED":',
      '    raise SystemExit(job["error"])',
      'print(job["result"]["images"][0]["url"])',
    )
  } else {
    lines.push('print(response.json()["images"][0]["url"])')
  }
  return `${lines.join('\n')}\n`
}
