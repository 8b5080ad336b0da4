// The JavaScript snippet: a Node ≥ 20 module (global fetch, top-level await).
import type { Plan } from './snippets-plan.js'
import type { Dialect } from './snippets-settings.js'
import {
  AUTH,
  KEY_VARIABLE,
  literal,
  omittedNote,
  POLL_S,
  propertyName,
  stringLiteral,
  TITLES,
} from './snippets-source.js'

export function jsSnippet(dialect: Dialect, request: Plan, { baseUrl }: { baseUrl: string }): string {
  const auth = AUTH[dialect]
  // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source that the snippet prints
  const header = `${propertyName(auth.header, 'js')}: ${auth.bearer ? '`Bearer ${KEY}`' : 'KEY'}`
  const lines = [
    `// ${TITLES[dialect](request.model)}`,
    '// Node ≥ 20: save as flux.mjs and run `node flux.mjs`.',
    ...omittedNote(request.reasons, '//'),
    `const BASE = ${stringLiteral(baseUrl, 'js')};`,
    `const KEY = process.env.${KEY_VARIABLE};`,
    `if (!KEY) throw new Error("set ${KEY_VARIABLE} to your fluxhost API key");`,
    `const headers = { ${header}, "Content-Type": "application/json" };`,
    '',
  ]
  if (request.imagePrompt && !request.imagePrompt.inline) {
    lines.push(
      `const image = await fetch(${stringLiteral(request.imagePrompt.url, 'js')});`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source that the snippet prints
      'if (!image.ok) throw new Error(`image prompt: HTTP ${image.status}`);',
      'const imagePrompt = Buffer.from(await image.arrayBuffer()).toString("base64");',
    )
  }
  const init = '{ method: "POST", headers, body: JSON.stringify(body) }'
  lines.push(
    `const body = ${literal(request.body, 'js')};`,
    `const response = await fetch(\`\${BASE}${request.path}\`, ${init});`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source that the snippet prints
    'if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);',
  )
  const poll = `  await new Promise((resolve) => setTimeout(resolve, ${POLL_S * 1000}));`
  if (dialect === 'bfl') {
    lines.push(
      'const { polling_url } = await response.json();',
      'let result;',
      'for (;;) {',
      '  result = await fetch(polling_url, { headers }).then((r) => r.json());',
      '  if (result.status !== "Pending") break;',
      poll,
      '}',
      'if (result.status !== "Ready") throw new Error(JSON.stringify(result));',
      'console.log(result.result.sample);',
    )
  } else if (dialect === 'seaart') {
    lines.push(
      'const task = await response.json();',
      'let status;',
      'for (;;) {',
      '  ({ status } = await fetch(task.status_url, { headers }).then((r) => r.json()));',
      '  if (status !== "queued" && status !== "in_progress") break;',
      poll,
      '}',
      'const result = await fetch(task.response_url, { headers }).then((r) => r.json());',
      'if (result.status !== "completed") throw new Error(JSON.stringify(result.error ?? result));',
      'console.log(result.output[0].content[0].url);',
    )
  } else if (dialect === 'apiframe') {
    lines.push(
      'const { jobId } = await response.json();',
      'let job;',
      'for (;;) {',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source that the snippet prints
      '  job = await fetch(`${BASE}/v2/jobs/${jobId}`, { headers }).then((r) => r.json());',
      '  if (job.status !== "QUEUED" && job.status !== "PROCESSING") break;',
      poll,
      '}',
      'if (job.status !== "COMPLETED") throw new Error(JSON.stringify(job.error));',
      'console.log(job.result.images[0].url);',
    )
  } else {
    lines.push('const data = await response.json();', 'console.log(data.images[0].url);')
  }
  return `${lines.join('\n')}\n`
}
