/**
 * Code samples for the playground: the request its current settings make, in each of the
 * four dialects fluxhost speaks, as a bash script (curl, with python3 to read JSON), a Python
 * script (`requests`) and a Node ≥ 20 module (global fetch, top-level await; save as .mjs).
 * Each one creates the job, waits for it (polling as the dialect documents, or AIML's
 * synchronous call) and prints the first image's URL as its last line.
 *
 * A dialect that cannot express a setting leaves it out of its body (the server would
 * refuse it, or it has no such field) and `unsupported` says so; the bodies follow the request
 * schemas under src/api/dialects/. Plain JavaScript with no imports: the page loads it as a
 * module and the tests import it from Node.
 *
 * settings: { model, prompt, width, height, aspectRatio, seed, outputFormat, quality,
 *             numImages, safetyTolerance, imagePrompt: null | { url, strength } }
 */

export const DIALECTS = ['bfl', 'seaart', 'apiframe', 'aiml']

const MODELS = {
  'flux-pro-1.1': 'FLUX 1.1 [pro]',
  'flux-pro-1.1-ultra': 'FLUX 1.1 [pro] ultra',
  'flux-dev': 'FLUX.1 [dev]',
}

/** How a reason names each dialect. */
const NAMES = { bfl: "BFL's API", seaart: 'The SeaArt queue', apiframe: 'Apiframe', aiml: 'AIML' }

/** The quality every dialect but Apiframe writes JPEG and WebP at (they take no quality field). */
const FIXED_QUALITY = 90
/** The image-prompt strength BFL's pro-1.1 and dev (and the SeaArt queue) apply; they take none. */
const FIXED_STRENGTH = 0.5
const MAX_PROMPT = 10000
const AIML_MAX_PROMPT = 4000
/** Seconds between polls, as BFL's own samples wait. */
const POLL_S = 0.5
/** A FLUX 1.1 [pro] (and [dev]) side: 256–1440 px, a multiple of 32. */
const isSide = (value) => Number.isInteger(value) && value >= 256 && value <= 1440 && value % 32 === 0

/** Stands for the base64 of the downloaded image prompt in a body; each language names it. */
const IMAGE_PROMPT = { imagePrompt: 'downloaded and base64-encoded by the snippet' }

/**
 * The settings every dialect must agree on before it can say anything: a value the server
 * refuses on every path is left out (or cut, for the prompt) and reported.
 */
function common(settings) {
  const reasons = []
  const model = Object.hasOwn(MODELS, settings.model) ? settings.model : 'flux-pro-1.1'
  if (model !== settings.model) reasons.push('unknown model; FLUX 1.1 [pro] is used')
  let prompt = typeof settings.prompt === 'string' ? settings.prompt : ''
  if (Array.from(prompt).length > MAX_PROMPT) {
    prompt = Array.from(prompt).slice(0, MAX_PROMPT).join('')
    reasons.push(`the prompt is cut to ${MAX_PROMPT} characters`)
  }
  const size =
    isSide(settings.width) && isSide(settings.height) ? { width: settings.width, height: settings.height } : null
  if (!size && model !== 'flux-pro-1.1-ultra')
    reasons.push('width and height must be 256–1440 and multiples of 32; left out')
  const seed =
    settings.seed === null || settings.seed === undefined
      ? null
      : Number.isSafeInteger(settings.seed)
        ? settings.seed
        : null
  if (seed === null && settings.seed !== null && settings.seed !== undefined)
    reasons.push('the seed must be an integer; left out')
  const format = ['jpeg', 'png', 'webp'].includes(settings.outputFormat) ? settings.outputFormat : 'jpeg'
  if (format !== settings.outputFormat) reasons.push('the output format must be jpeg, png or webp; jpeg is used')
  const quality =
    Number.isInteger(settings.quality) && settings.quality >= 0 && settings.quality <= 100
      ? settings.quality
      : FIXED_QUALITY
  const numImages =
    Number.isInteger(settings.numImages) && settings.numImages >= 1 && settings.numImages <= 4 ? settings.numImages : 1
  if (numImages !== settings.numImages) reasons.push('the number of images must be 1–4; 1 is used')
  const tolerance =
    Number.isInteger(settings.safetyTolerance) && settings.safetyTolerance >= 0 && settings.safetyTolerance <= 6
      ? settings.safetyTolerance
      : null
  if (tolerance === null) reasons.push('the safety tolerance must be 0–6; left out')
  const ratio = /^(\d{1,3}):(\d{1,3})$/.exec(String(settings.aspectRatio ?? ''))
  const ratioOk =
    ratio !== null &&
    +ratio[1] > 0 &&
    +ratio[2] > 0 &&
    +ratio[1] / +ratio[2] <= 21 / 9 + 1e-9 &&
    +ratio[2] / +ratio[1] <= 21 / 9 + 1e-9
  if (model === 'flux-pro-1.1-ultra' && !ratioOk)
    reasons.push('the aspect ratio must be W:H between 21:9 and 9:21; 16:9 is used')
  // flux-dev's sampling (null = the model's default): steps 1–50, guidance 1.5–5.
  const dev = model === 'flux-dev'
  const given = (value) => value !== null && value !== undefined
  const steps =
    dev && Number.isInteger(settings.steps) && settings.steps >= 1 && settings.steps <= 50 ? settings.steps : null
  if (dev && given(settings.steps) && steps === null) reasons.push('steps must be an integer 1–50; left out')
  const guidance =
    dev && typeof settings.guidance === 'number' && settings.guidance >= 1.5 && settings.guidance <= 5
      ? settings.guidance
      : null
  if (dev && given(settings.guidance) && guidance === null) reasons.push('guidance must be 1.5–5; left out')
  let imagePrompt = null
  if (settings.imagePrompt) {
    const { url, strength } = settings.imagePrompt
    if (typeof url !== 'string' || !/^(https?:\/\/|data:image\/[\w.+-]+;base64,)/i.test(url))
      reasons.push('the image prompt must be an http(s) or data:image URL; left out')
    else if (typeof strength !== 'number' || !(strength >= 0 && strength <= 1))
      reasons.push('the image prompt strength must be 0–1; left out')
    else imagePrompt = { url, strength, inline: url.toLowerCase().startsWith('data:') }
  }
  return {
    reasons,
    model,
    prompt,
    size,
    aspectRatio: ratioOk ? settings.aspectRatio : '16:9',
    seed,
    format,
    quality,
    numImages,
    tolerance,
    steps,
    guidance,
    imagePrompt,
  }
}

/**
 * The request a dialect makes of the settings: its path, its body (with IMAGE_PROMPT where
 * the snippet downloads and encodes an image first) and the reasons it falls short.
 */
function plan(settings, dialect) {
  const s = common(settings)
  const reasons = [...s.reasons]
  const name = NAMES[dialect]
  const fixedQuality = (format) => {
    if (format !== 'png' && s.quality !== FIXED_QUALITY)
      reasons.push(`${name} writes JPEG and WebP at quality ${FIXED_QUALITY} (no quality field)`)
  }
  const oneImage = (what) => {
    if (s.numImages > 1) reasons.push(`${name} makes one image per ${what} (no num_images)`)
  }
  const proOnly = () => {
    if (s.model !== 'flux-pro-1.1') reasons.push(`${name} serves FLUX 1.1 [pro] only, not ${MODELS[s.model]}`)
  }
  const needsPrompt = () => {
    if (s.prompt === '') reasons.push(`${name} needs a prompt`)
  }
  /** Base64 bodies (BFL, SeaArt): a data: URL goes in as it is, any other is downloaded. */
  const base64Image = () => (s.imagePrompt.inline ? s.imagePrompt.url : IMAGE_PROMPT)

  if (dialect === 'bfl') {
    const ultra = s.model === 'flux-pro-1.1-ultra'
    const body = { prompt: s.prompt }
    if (ultra) body.aspect_ratio = s.aspectRatio
    else if (s.size) Object.assign(body, s.size)
    if (s.seed !== null) body.seed = s.seed
    if (s.tolerance !== null) body.safety_tolerance = s.tolerance
    if (s.steps !== null) body.steps = s.steps
    if (s.guidance !== null) body.guidance = s.guidance
    body.output_format = s.format
    if (s.imagePrompt) {
      body.image_prompt = base64Image()
      if (ultra) body.image_prompt_strength = s.imagePrompt.strength
      else if (Math.abs(s.imagePrompt.strength - FIXED_STRENGTH) > 1e-9) {
        reasons.push(`${name} takes no image_prompt_strength for ${MODELS[s.model]} (it applies ${FIXED_STRENGTH})`)
      }
    }
    oneImage('request')
    fixedQuality(s.format)
    return { path: `/v1/${s.model}`, body, reasons, imagePrompt: s.imagePrompt }
  }

  if (dialect === 'seaart') {
    proOnly()
    needsPrompt()
    const body = { prompt: s.prompt }
    if (s.size) Object.assign(body, s.size)
    if (s.seed !== null) body.seed = s.seed
    if (s.tolerance !== null) body.safety_tolerance = s.tolerance
    const format = s.format === 'webp' ? 'jpeg' : s.format
    if (s.format === 'webp') reasons.push(`${name}'s output_format is jpeg or png (no webp)`)
    body.output_format = format
    if (s.imagePrompt) {
      body.image_prompt = base64Image()
      if (Math.abs(s.imagePrompt.strength - FIXED_STRENGTH) > 1e-9)
        reasons.push(`${name} takes no image_prompt_strength (it applies ${FIXED_STRENGTH})`)
    }
    oneImage('task')
    fixedQuality(format)
    return { path: '/v1/queue/flux_pro_11', body, reasons, imagePrompt: s.imagePrompt }
  }

  if (dialect === 'apiframe') {
    proOnly()
    needsPrompt()
    const params = {}
    if (s.size) Object.assign(params, { aspect_ratio: 'custom', ...s.size })
    params.output_format = s.format === 'jpeg' ? 'jpg' : s.format
    if (s.format !== 'png') params.output_quality = s.quality
    if (s.seed !== null) params.seed = s.seed
    if (s.imagePrompt) {
      if (s.imagePrompt.inline)
        reasons.push(`${name}'s image_prompt is an http(s) URL the server fetches, not a data: URL`)
      else {
        // The schema takes multiples of 0.05.
        const strength = Math.round(s.imagePrompt.strength * 20) / 20
        params.image_prompt = s.imagePrompt.url
        params.image_prompt_strength = strength
        if (Math.abs(strength - s.imagePrompt.strength) > 1e-9)
          reasons.push(`${name}'s image_prompt_strength is a multiple of 0.05 (${strength} is sent)`)
      }
    }
    if (s.tolerance !== null && s.tolerance !== 2) reasons.push(`${name} takes no safety_tolerance (it moderates at 2)`)
    oneImage('job')
    return {
      path: '/v2/images/generate',
      body: { prompt: s.prompt, model: 'flux-1.1-pro', fluxParams: params },
      reasons,
      imagePrompt: null,
    }
  }

  if (dialect === 'aiml') {
    proOnly()
    needsPrompt()
    let prompt = s.prompt
    if (Array.from(prompt).length > AIML_MAX_PROMPT) {
      prompt = Array.from(prompt).slice(0, AIML_MAX_PROMPT).join('')
      reasons.push(`${name}'s prompt is at most ${AIML_MAX_PROMPT} characters; it is cut`)
    }
    const body = { model: 'flux-pro/v1.1', prompt }
    if (s.size) body.image_size = { ...s.size }
    body.num_images = s.numImages
    if (s.seed !== null && s.seed >= 1) body.seed = s.seed
    else if (s.seed !== null) reasons.push(`${name}'s seed is 1 or more`)
    if (s.tolerance !== null && s.tolerance >= 1) body.safety_tolerance = String(s.tolerance)
    else if (s.tolerance !== null) reasons.push(`${name}'s safety_tolerance is 1–6 (no 0)`)
    const format = s.format === 'webp' ? 'jpeg' : s.format
    if (s.format === 'webp') reasons.push(`${name}'s output_format is jpeg or png (no webp)`)
    body.output_format = format
    fixedQuality(format)
    if (s.imagePrompt) reasons.push(`${name}'s flux-pro/v1.1 takes no image prompt`)
    return { path: '/v1/images/generations', body, reasons, imagePrompt: null }
  }

  throw new Error(`unknown dialect: ${String(dialect)}`)
}

/** Null when the dialect can express every setting, else why not (settings it leaves out). */
export function unsupported(settings, dialect) {
  const { reasons } = plan(settings, dialect)
  return reasons.length === 0 ? null : reasons.join('; ')
}

// ---- literals ---------------------------------------------------------------------------

/** Characters that print as nothing or break lines in an editor: written as escapes. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu

/**
 * A string literal that JSON, JavaScript and Python all read as `value` (JSON's escapes are
 * valid in both languages), with invisible and line-breaking characters escaped too.
 */
function stringLiteral(value, lang) {
  return JSON.stringify(value).replace(INVISIBLE, (char) => {
    const code = char.codePointAt(0)
    if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`
    if (lang === 'py') return `\\U${code.toString(16).padStart(8, '0')}`
    if (lang === 'js') return `\\u{${code.toString(16)}}`
    const high = Math.floor((code - 0x10000) / 0x400) + 0xd800
    const low = ((code - 0x10000) % 0x400) + 0xdc00
    return `\\u${high.toString(16)}\\u${low.toString(16)}`
  })
}

/** Bash single quotes: nothing inside is special but the quote itself. */
const shQuote = (value) => `'${String(value).replaceAll("'", "'\\''")}'`

/** An object key: bare in JavaScript where it can be, quoted otherwise. */
const propertyName = (name, lang) =>
  lang === 'js' && /^[A-Za-z_$][\w$]*$/.test(name) ? name : stringLiteral(name, lang)

/**
 * A value as source: `json` is a JSON body inside a bash single-quoted string, `py` a Python
 * literal, `js` a JavaScript one. Indented like json.dumps(indent) and Prettier.
 */
function literal(value, lang, indent = '') {
  if (value === IMAGE_PROMPT) return { json: `"'"$IMAGE_PROMPT"'"`, py: 'image_prompt', js: 'imagePrompt' }[lang]
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
const omittedNote = (reasons, mark) =>
  reasons.length === 0
    ? []
    : [`${mark} Not expressible in this dialect (left out or changed): ${reasons.join('; ').replace(/\s+/g, ' ')}`]

// ---- snippets ---------------------------------------------------------------------------

const TITLES = {
  bfl: (model) =>
    `${MODELS[model] ?? MODELS['flux-pro-1.1']} through BFL's API: submit, poll get_result, print the image URL.`,
  seaart: () => 'FLUX 1.1 [pro] through the SeaArt-style queue: create a task, poll its status, print the image URL.',
  apiframe: () => "FLUX 1.1 [pro] through Apiframe's v2 API: generate, poll the job, print the image URL.",
  aiml: () => "FLUX 1.1 [pro] through AIML's images API: one synchronous call, print the image URL.",
}

/** How each dialect is usually given the key (all four take any of the three headers). */
const AUTH = {
  bfl: { header: 'x-key', value: (key) => key, sh: '"x-key: $KEY"' },
  seaart: { header: 'Authorization', value: (key) => `Bearer ${key}`, sh: '"Authorization: Bearer $KEY"' },
  apiframe: { header: 'X-API-Key', value: (key) => key, sh: '"X-API-Key: $KEY"' },
  aiml: { header: 'Authorization', value: (key) => `Bearer ${key}`, sh: '"Authorization: Bearer $KEY"' },
}

function curlSnippet(dialect, request, model, { baseUrl, key }) {
  const auth = AUTH[dialect].sh
  const post = `printf '%s' "$BODY" | curl -sS "$BASE${request.path}" -H ${auth} -H "Content-Type: application/json" --data-binary @-`
  const lines = [
    '#!/usr/bin/env bash',
    `# ${TITLES[dialect](model)}`,
    '# Needs curl, and python3 to read the JSON answers.',
    ...omittedNote(request.reasons, '#'),
    'set -euo pipefail',
    `BASE=${shQuote(baseUrl)}`,
    `KEY=${shQuote(key)}`,
    '',
    '# Prints one field of the JSON on stdin (`json a 0 b` is doc["a"][0]["b"]); without it, the whole answer to stderr.',
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

function pythonSnippet(dialect, request, model, { baseUrl, key }) {
  const auth = AUTH[dialect]
  const stdlib = [
    ...(request.imagePrompt && !request.imagePrompt.inline ? ['base64'] : []),
    ...(dialect === 'aiml' ? [] : ['time']),
  ]
  const lines = [
    `# ${TITLES[dialect](model)}`,
    '# Needs Python 3 and requests (pip install requests).',
    ...omittedNote(request.reasons, '#'),
    ...stdlib.map((name) => `import ${name}`),
    ...(stdlib.length > 0 ? [''] : []),
    'import requests',
    '',
    `BASE = ${stringLiteral(baseUrl, 'py')}`,
    `HEADERS = {${stringLiteral(auth.header, 'py')}: ${stringLiteral(auth.value(key), 'py')}}`,
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

function jsSnippet(dialect, request, model, { baseUrl, key }) {
  const auth = AUTH[dialect]
  const lines = [
    `// ${TITLES[dialect](model)}`,
    '// Node ≥ 20: save as flux.mjs and run `node flux.mjs`.',
    ...omittedNote(request.reasons, '//'),
    `const BASE = ${stringLiteral(baseUrl, 'js')};`,
    `const headers = { ${propertyName(auth.header, 'js')}: ${stringLiteral(auth.value(key), 'js')}, "Content-Type": "application/json" };`,
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
  lines.push(
    `const body = ${literal(request.body, 'js')};`,
    `const response = await fetch(\`\${BASE}${request.path}\`, { method: "POST", headers, body: JSON.stringify(body) });`,
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

/**
 * The request `settings` make, in every dialect: `{ bfl: { curl, python, js }, seaart, apiframe,
 * aiml }`. `baseUrl` and `key` are written into the code as they are.
 */
export function snippets(settings, { baseUrl, key }) {
  const target = { baseUrl: String(baseUrl).replace(/\/+$/, ''), key: String(key) }
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
