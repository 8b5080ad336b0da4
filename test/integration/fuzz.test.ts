import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CREATE_ROUTES } from '../helpers/routes.js'
import { KEY_A, startTestServer, type TestServer } from '../helpers/server.js'

// Property-based fuzzing of every create route, bodies and headers (issue 13): whatever
// arrives, the answer is never a 5xx and never over 64 KB, and the server still answers
// /api/health afterwards. Seeded, and bounded in runs and time, so CI replays the same cases.
type Route = (typeof CREATE_ROUTES)[number]
const MAX_ANSWER = 64 * 1024
const SEED = 1313
// A property stops at numRuns or after this long (shrinking a failure included), whichever is first.
const RUN_LIMIT_MS = 20_000
const TEST_TIMEOUT_MS = 60_000

let s: TestServer
beforeAll(async () => {
  s = await startTestServer()
})
afterAll(async () => {
  await s?.close()
})

/** One request to send. */
interface Case {
  route: Route
  headers: Record<string, string>
  body: string
}
const clip = (text: string, length: number) => (text.length > length ? `${text.slice(0, length)}…` : text)
const show = (c: Case) => {
  const headers = Object.fromEntries(Object.entries(c.headers).map(([name, value]) => [name, clip(value, 120)]))
  const body = `body (${c.body.length} chars) ${JSON.stringify(clip(c.body, 300))}`
  return `POST ${c.route}\nheaders ${JSON.stringify(headers)}\n${body}`
}
/** A case that fast-check prints (as a counterexample) clipped: long bodies and headers are cut. */
const asCase = (c: Case): Case => Object.assign(c, { [fc.toStringMethod]: () => show(c) })

/**
 * The one 5xx a client can ask for: `X-Fluxhost-Simulate: error` fails the job in its engine,
 * and the synchronous route answers that as GENERATION_FAILED, a 500 (docs/errors.md), as
 * does a replay of its Idempotency-Key.
 */
const simulatedFailure = (c: Case, text: string) =>
  c.route === '/v1/images/generations' &&
  text.includes('"code":"GENERATION_FAILED"') &&
  text.includes('simulated: the upstream engine failed')

/** Sends a case; without a content-type the body goes as bytes, so fetch adds none. */
async function send(c: Case): Promise<void> {
  const response = await fetch(`${s.url}${c.route}`, {
    method: 'POST',
    headers: c.headers,
    body: c.headers['content-type'] === undefined ? Buffer.from(c.body) : c.body,
    signal: AbortSignal.timeout(20_000),
  })
  const text = await response.text()
  const seen = `${show(c)}\n→ ${response.status} (${text.length} chars) ${clip(text, 300)}`
  if (!(response.status === 500 && simulatedFailure(c, text))) expect(response.status, seen).toBeLessThan(500)
  expect(text.length, seen).toBeLessThan(MAX_ANSWER)
}

const run = (property: fc.IAsyncProperty<[Case]>, numRuns: number) =>
  fc.assert(property, { seed: SEED, numRuns, plugins: [fc.interruptAfterTimeLimit(RUN_LIMIT_MS)] })

// ---- bodies ----

const URLS = ['https://fluxhost.invalid/hook', 'http://127.0.0.1:9/x', 'ftp://x', 'not a url', '']
const IMAGES = ['iVBORw0KGgo=', 'data:image/png;base64,AAAA', 'https://fluxhost.invalid/a.png', '!!!']
const sizeValue = fc.oneof(fc.constantFrom(256, 512, 1024, 1440, 0, 33, '512'), fc.integer())
/** A value for a known field: often one the field takes, often one it does not. */
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(256, 512, 768, 1024, 1440, 0, -1, 33, 1e9, 2 ** 53, 1.5, 4, 5, 50, 6, 7),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(...URLS, ...IMAGES),
  fc.constantFrom('jpeg', 'png', 'webp', 'gif', '16:9', '9:21', '21:9', '1:100', 'custom', 'square_hd'),
  fc.constantFrom('1024x1024', 'auto', '0x0', 'url', 'b64_json', '2', '6', '-1'),
  fc.constantFrom('flux-pro/v1.1', 'flux_pro_11', 'flux-1.1-pro', 'flux-pro-1.1', 'flux-dev', 'nope'),
  fc.record({ width: sizeValue, height: sizeValue }),
  fc.jsonValue({ maxDepth: 3 }),
)

const FIELDS = [
  ...['prompt', 'width', 'height', 'seed', 'webhook_url', 'webhook_secret', 'image_prompt', 'output_format'],
  ...['image_prompt_strength', 'prompt_upsampling', 'safety_tolerance', 'aspect_ratio', 'raw', 'steps'],
  ...['guidance', 'model', 'fluxParams', 'image_size', 'num_images', 'n', 'size', 'response_format'],
  ...['enable_safety_checker', 'numImages', 'outputFormat', 'outputQuality', 'safetyTolerance', 'imagePrompt'],
  ...['webhookUrl', 'aspectRatio', 'promptUpsampling', '__proto__', 'constructor'],
]
/** The smallest body each route takes, before fields are changed. */
const BASE: Record<Route, Record<string, unknown>> = {
  '/v1/flux-pro-1.1': { prompt: 'a red fox', width: 256, height: 256 },
  '/v1/flux-pro-1.1-ultra': { prompt: 'a red fox' },
  '/v1/flux-dev': { prompt: 'a red fox', width: 256, height: 256, steps: 2 },
  '/v1/queue/flux_pro_11': { model: 'flux_pro_11', prompt: 'a red fox', width: 256, height: 256 },
  '/v2/images/generate': { model: 'flux-1.1-pro', prompt: 'a red fox', fluxParams: { aspect_ratio: '1:1' } },
  '/v1/images/generations': { model: 'flux-pro/v1.1', prompt: 'a red fox', image_size: 'square' },
  '/api/jobs': { prompt: 'a red fox', width: 256, height: 256 },
}
const changes = fc.dictionary(fc.constantFrom(...FIELDS), fieldValue, { maxKeys: 5 })
/** A route's own body with known fields (and fluxParams' fields) changed, added or removed. */
const shaped = (route: Route) =>
  fc.tuple(changes, changes, fc.subarray(FIELDS, { maxLength: 2 })).map(([top, params, drop]) => {
    const body: Record<string, unknown> = { ...BASE[route], ...top }
    for (const name of drop) delete body[name]
    if (route === '/v2/images/generate' && typeof body.fluxParams !== 'object') body.fluxParams = params
    return JSON.stringify(body)
  })

/** Values JSON.stringify never writes: out of range, negative zero, lone surrogates, prototype keys. */
const LITERALS = ['1e999', '-1e999', '-0', '1e-400', '123456789012345678901234567890', '1024.0', '"\\ud800"']
const TRICKS = ['"\\u0000"', '{"__proto__":{"width":1}}', '{"constructor":{"prototype":{"x":1}}}', '[]', '{}']
/** The route's body with one field set to a literal (a key already there is now a duplicate), maybe wrapped. */
const literal = (route: Route) =>
  fc
    .record({
      field: fc.constantFrom(...FIELDS),
      value: fc.constantFrom(...LITERALS, ...TRICKS),
      before: fc.constantFrom('', '', '\ufeff', ' \n\t'),
      after: fc.constantFrom('', '', ' ', ',', '}', ' trailing', '\u0000'),
    })
    .map(({ field, value, before, after }) => {
      const base = JSON.stringify(BASE[route])
      return `${before}${base.slice(0, -1)},${JSON.stringify(field)}:${value}}${after}`
    })
const CLOSERS: Record<string, string> = { '[': ']', '{"a":': '}', '[{"prompt":': '}]' }

const bodyText = (route: Route): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: shaped(route), weight: 4 },
    { arbitrary: literal(route), weight: 2 },
    fc.integer({ min: 1, max: 60 }).chain((maxDepth) => fc.jsonValue({ maxDepth }).map((v) => JSON.stringify(v))),
    fc.string({ unit: 'binary', maxLength: 300 }),
    // Large but bounded: under and over the small (256 KiB) limit, in a field or bare.
    fc
      .tuple(fc.constantFrom('x', 'é', '\\u0000', '"', '😀'), fc.integer({ min: 1_000, max: 400_000 }), fc.boolean())
      .map(([unit, n, inField]) => (inField ? `{"prompt":"${unit.repeat(n)}"}` : unit.repeat(n))),
    // Wide: many distinct keys.
    fc
      .integer({ min: 1, max: 20_000 })
      .map((n) => `{"prompt":"p",${Array.from({ length: n }, (_, i) => `"${i.toString(36)}":${i}`).join(',')}}`),
    // Nesting built as text: deeper than any parser's stack, closed or not.
    fc
      .tuple(fc.constantFrom(...Object.keys(CLOSERS)), fc.integer({ min: 1, max: 100_000 }), fc.boolean())
      .map(([open, n, closed]) => open.repeat(n) + (closed ? `1${CLOSERS[open]!.repeat(n)}` : '')),
  )

const CONTENT_TYPES = ['application/json', 'text/plain', undefined, 'application/json; charset=utf-16']
const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 3 },
  fc.constantFrom(...CONTENT_TYPES),
)
// Cheap outcomes mostly, so valid bodies do not queue up whole images (the AIML route waits for its job).
const SIMULATIONS = ['request_moderated', 'request_moderated', 'error', 'rate_limited', undefined]
const asciiKey = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 64 })
/** Fresh keys, and a few that recur across routes and bodies (replays and conflicts). */
const bodyKey = fc.oneof(
  fc.stringMatching(/^[\x21-\x7e]{1,64}$/),
  fc.stringMatching(/^[\x21-\x7e]{1,64}$/).map((key) => JSON.stringify(key)),
  fc.constantFrom('fuzz-1', '"fuzz-1"', 'fuzz-2'),
)

const auth = { authorization: `Bearer ${KEY_A}`, 'x-api-key': KEY_A }
const defined = (headers: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>

const bodyCase: fc.Arbitrary<Case> = fc
  .constantFrom(...CREATE_ROUTES)
  .chain((route) =>
    fc.record({
      route: fc.constant(route),
      body: bodyText(route),
      contentType,
      simulate: fc.constantFrom(...SIMULATIONS),
      key: fc.option(bodyKey, { nil: undefined }),
    }),
  )
  .map(({ route, body, contentType, simulate, key }) =>
    asCase({
      route,
      body,
      headers: defined({
        ...auth,
        'content-type': contentType,
        'x-fluxhost-simulate': simulate,
        'idempotency-key': key,
      }),
    }),
  )

// ---- headers ----

/** What fetch can put in a header value: tab, visible ASCII and space, and obs-text (0x80–0xFF). */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\t', '"', '\\', "'", ',', ';', '='),
)
const headerText = (maxLength: number) => fc.string({ unit: headerChar, maxLength })
/** Unicode as a client puts it on the wire: its UTF-8 bytes, each one obs-text. */
const utf8Header = fc
  .string({ unit: 'grapheme', maxLength: 40 })
  .map((text) => Buffer.from(text, 'utf8').toString('latin1'))
const longHeader = fc
  .tuple(fc.constantFrom('k', '"', '\\', 'é'), fc.integer({ min: 200, max: 8 * 1024 }))
  .map(([unit, n]) => unit.repeat(n))

const idempotencyKey = fc.oneof(asciiKey, headerText(200), utf8Header, longHeader, fc.constantFrom('', '""', '"\\"'))
const simulation = fc.oneof(
  fc.constantFrom('request_moderated', 'content_moderated', 'error', 'rate_limited', 'slow=5', 'slow=5,error'),
  // Refused, or harmless: a slow job that is valid must stay short (the AIML route waits for it).
  fc.constantFrom('slow=600001', 'slow=-1', 'slow=1e3', 'slow=', 'error,error', '', ' , ,', 'RATE_LIMITED'),
  headerText(60),
  utf8Header,
)
const authorization = fc.oneof(
  fc.constantFrom(`Bearer ${KEY_A}`, `Bearer    ${KEY_A}`, `bearer ${KEY_A}`, 'Bearer', 'Bearer ', '', 'Basic Og=='),
  headerText(80).map((token) => `Bearer ${token}`),
  headerText(80),
  utf8Header.map((token) => `Bearer ${token}`),
)
const anyContentType = fc.oneof(contentType, fc.constant('application/json; charset=bogus'), headerText(60))

const headerCase: fc.Arbitrary<Case> = fc
  .record({
    route: fc.constantFrom(...CREATE_ROUTES),
    valid: fc.boolean(),
    // Keyed: the key is right, so the other headers are read; otherwise the key headers are fuzzed.
    keys: fc.oneof(
      { arbitrary: fc.constant(auth), weight: 2 },
      fc.record(
        {
          authorization,
          'x-api-key': fc.oneof(fc.constant(KEY_A), headerText(80), utf8Header),
          'x-key': fc.oneof(fc.constant(KEY_A), headerText(80)),
        },
        { requiredKeys: [] },
      ),
    ),
    headers: fc.record(
      {
        'idempotency-key': idempotencyKey,
        'x-fluxhost-simulate': simulation,
        'content-type': anyContentType,
        accept: headerText(60),
        'x-forwarded-host': fc.oneof(headerText(60), utf8Header),
        'x-forwarded-proto': fc.oneof(fc.constantFrom('http', 'https', 'javascript'), headerText(20)),
      },
      { requiredKeys: [] },
    ),
  })
  .map(({ route, valid, keys, headers }) =>
    asCase({
      route,
      headers: defined({ ...keys, ...headers }),
      body: valid ? JSON.stringify(BASE[route]) : '{"prompt":5}',
    }),
  )

describe('fuzzing every create route', () => {
  it(
    'random bodies of random shapes, sizes and depths → never a 5xx, never an answer over 64 KB',
    async () => {
      await run(fc.asyncProperty(bodyCase, send), 300)
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'random header values (keys, idempotency, simulation, content type) → never a 5xx, never over 64 KB',
    async () => {
      await run(fc.asyncProperty(headerCase, send), 300)
    },
    TEST_TIMEOUT_MS,
  )

  it('the server answers /api/health afterwards', async () => {
    const response = await fetch(`${s.url}/api/health`, { signal: AbortSignal.timeout(10_000) })
    expect(response.status, await response.text()).toBe(200)
  })
})
