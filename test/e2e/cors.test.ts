import type { default as OpenAIClient } from 'openai'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, openPageAt, type PageOrigin, startPageOrigin } from '../helpers/browser.js'
import { metricAbove, metricValue, unansweredSeries } from '../helpers/metrics.js'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'

// Pages on another origin (another port) calling fluxhost from a real browser: plain fetch
// (a BFL create, its poll, the image under /files) and OpenAI's browser build
// (images.generate), with FLUXHOST_CORS_ORIGINS listing the page's origin, not listing it,
// and unset. The browser, not this test, decides what a page may read.

const launched = await launchBrowser()
const MAX_AGE = '7200'

/** What a page's global scope has that Node's types lack (the page set `OpenAI`). */
type PageGlobals = {
  OpenAI: typeof OpenAIClient
  createImageBitmap(blob: Blob): Promise<{ width: number; height: number }>
}

/** What the page's calls came to: a value, or the error the page saw (name and message). */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: string }

/** A BFL create from the page with fetch; the headers a script may read included. */
const createFromPage = (page: Page, apiUrl: string, prompt: string) =>
  page.evaluate(
    async ({ apiUrl, key, prompt }): Promise<Outcome<{ status: number; body: any; requestId: string | null }>> => {
      try {
        const response = await fetch(`${apiUrl}/v1/flux-pro-1.1`, {
          method: 'POST',
          headers: { 'x-key': key, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt, width: 320, height: 256 }),
        })
        const body = await response.json()
        return { ok: true, value: { status: response.status, body, requestId: response.headers.get('x-request-id') } }
      } catch (error) {
        return { ok: false, error: `${(error as Error).name}: ${(error as Error).message}` }
      }
    },
    { apiUrl, key: KEY_A, prompt },
  )

/** A GET from the page (with the key in a header, or none), the answer read as JSON or as an image's size. */
const getFromPage = (page: Page, url: string, as: 'json' | 'image', key: string | null) =>
  page.evaluate(
    async ({ url, as, key }): Promise<Outcome<any>> => {
      try {
        const response = await fetch(url, { headers: key === null ? {} : { 'x-key': key } })
        if (as === 'json') return { ok: true, value: await response.json() }
        const bitmap = await (globalThis as unknown as PageGlobals).createImageBitmap(await response.blob())
        return { ok: true, value: { status: response.status, width: bitmap.width, height: bitmap.height } }
      } catch (error) {
        return { ok: false, error: `${(error as Error).name}: ${(error as Error).message}` }
      }
    },
    { url, as, key },
  )

/** OpenAI's browser build in the page: images.generate against fluxhost's /v1, and the image's size. */
const openaiFromPage = (page: Page, apiUrl: string) =>
  page.evaluate(
    async ({ apiUrl, key }): Promise<Outcome<{ width: number; height: number }>> => {
      const { OpenAI } = globalThis as unknown as PageGlobals
      const client = new OpenAI({ baseURL: `${apiUrl}/v1`, apiKey: key, dangerouslyAllowBrowser: true, maxRetries: 0 })
      try {
        const result = await client.images.generate({
          model: 'flux-pro/v1.1',
          prompt: 'from a browser',
          size: '512x512' as never,
        })
        const bitmap = await (globalThis as unknown as PageGlobals).createImageBitmap(
          await (await fetch(result.data![0]!.url!)).blob(),
        )
        return { ok: true, value: { width: bitmap.width, height: bitmap.height } }
      } catch (error) {
        return { ok: false, error: `${(error as Error).name}: ${(error as Error).message}` }
      }
    },
    { apiUrl, key: KEY_A },
  )

/** Preflights the server answered with 204, counted from its own metrics. */
async function preflightsAnswered(server: TestServer): Promise<number> {
  const text = (await api(`${server.url}/metrics`, { key: null })).text
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('fluxhost_http_request_duration_seconds_count{') &&
        l.includes('method="OPTIONS"') &&
        l.includes('status="204"'),
    )
  return line ? Number(line.split(' ').at(-1)) : 0
}

describe('CORS answers, as any client sees them', () => {
  let server: TestServer
  const origin = 'https://app.example.com'
  beforeAll(async () => {
    server = await startTestServer({ FLUXHOST_CORS_ORIGINS: `${origin},http://localhost:5173` })
  })
  afterAll(async () => {
    await server?.close()
  })

  const preflight = (path: string, from: string, headers = 'x-key,content-type,x-stainless-retry-count') =>
    fetch(`${server.url}${path}`, {
      method: 'OPTIONS',
      headers: { origin: from, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
    })

  it('a preflight from a listed origin: 204, cached 2 hours, the asked headers allowed, no credentials', async () => {
    for (const path of ['/v1/flux-pro-1.1', '/v1/images/generations', '/v2/images/generate', '/api/jobs']) {
      const answer = await preflight(path, origin)
      expect(answer.status, path).toBe(204)
      expect(answer.headers.get('access-control-allow-origin'), path).toBe(origin)
      expect(answer.headers.get('access-control-max-age'), path).toBe(MAX_AGE)
      expect(answer.headers.get('access-control-allow-headers'), path).toBe(
        'x-key,content-type,x-stainless-retry-count',
      )
      expect(answer.headers.get('access-control-allow-methods'), path).toContain('POST')
      expect(answer.headers.get('access-control-allow-credentials'), path).toBeNull()
    }
  })

  it('answers (errors too) let the page read them and the headers it needs', async () => {
    const denied = await api(`${server.url}/v1/flux-pro-1.1`, { key: 'wrong', body: {}, headers: { origin } })
    expect(denied.status).toBe(401)
    expect(denied.headers.get('access-control-allow-origin')).toBe(origin)
    const exposed = denied.headers.get('access-control-expose-headers')!.split(', ')
    for (const name of ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy', 'x-should-retry'])
      expect(exposed).toContain(name)
    const missing = await api(`${server.url}/v1/nothing-here`, { headers: { origin } })
    expect([missing.status, missing.headers.get('access-control-allow-origin')]).toEqual([404, origin])

    // The event stream writes its own head (a hijacked reply): it carries them as well.
    const created = await api(`${server.url}/api/jobs`, { body: { prompt: 'x', width: 256, height: 256 } })
    await server.waitForJob(created.body.id)
    const events = await fetch(`${server.url}/api/jobs/${created.body.id}/events`, {
      headers: { origin, 'x-key': KEY_A },
    })
    expect(events.headers.get('content-type')).toContain('text/event-stream')
    expect(events.headers.get('access-control-allow-origin')).toBe(origin)
    expect(await events.text()).toContain('event: state')
  })

  it('an unlisted origin, the web pages, /docs and the admin API get no CORS header at all', async () => {
    const unlisted = await preflight('/v1/flux-pro-1.1', 'https://evil.example')
    expect(unlisted.headers.get('access-control-allow-origin')).toBeNull()
    expect(unlisted.headers.get('access-control-allow-headers')).toBeNull()
    const admin = ['/api/admin/keys', '/api/webhook-secret', '/api/%61dmin/keys', '/api/%77ebhook-secret']
    for (const path of ['/', '/admin', '/docs/', '/openapi.json', ...admin]) {
      const page = await fetch(`${server.url}${path}`, { headers: { origin } })
      await page.arrayBuffer()
      expect(page.headers.get('access-control-allow-origin'), path).toBeNull()
      const asked = await preflight(path, origin)
      expect(asked.headers.get('access-control-allow-origin'), path).toBeNull()
      expect(asked.status, path).toBe(404)
    }
  })

  it('with `*`, any origin may call, still without credentials', async () => {
    const any = await startTestServer({ FLUXHOST_CORS_ORIGINS: '*' })
    try {
      const answer = await api(`${any.url}/v1/credits`, { headers: { origin: 'https://anyone.example' } })
      expect(answer.headers.get('access-control-allow-origin')).toBe('*')
      expect(answer.headers.get('access-control-allow-credentials')).toBeNull()
    } finally {
      await any.close()
    }
  })
})

describe.runIf(launched.ok)('a page on another origin, in Chromium', () => {
  let browser: Browser
  let listed: PageOrigin
  let unlisted: PageOrigin
  let withCors: TestServer
  let withoutCors: TestServer

  beforeAll(async () => {
    browser = (launched as { browser: Browser }).browser
    ;[listed, unlisted] = await Promise.all([startPageOrigin(), startPageOrigin()])
    withCors = await startTestServer({ FLUXHOST_CORS_ORIGINS: listed.url })
    withoutCors = await startTestServer()
  })
  afterAll(async () => {
    await browser?.close()
    await Promise.all([withCors?.close(), withoutCors?.close(), listed?.close(), unlisted?.close()])
  })

  it('listed: fetch creates, polls and downloads the image; one preflight serves repeated calls', async () => {
    const { page, errors, close } = await openPageAt(browser, listed)
    const before = await preflightsAnswered(withCors)
    const first = await createFromPage(page, withCors.url, 'from another origin')
    const second = await createFromPage(page, withCors.url, 'again')
    for (const created of [first, second]) {
      expect(created).toMatchObject({ ok: true, value: { status: 200, requestId: expect.any(String) } })
    }
    // The browser asked once and reused the answer (Access-Control-Max-Age) for the second call.
    expect((await preflightsAnswered(withCors)) - before).toBe(1)
    const { body } = (first as { value: { body: { id: string; polling_url: string } } }).value
    await withCors.waitForJob(body.id)
    const result = await getFromPage(page, body.polling_url, 'json', KEY_A)
    expect(result).toMatchObject({ ok: true, value: { status: 'Ready', result: { sample: expect.any(String) } } })
    const image = await getFromPage(
      page,
      (result as { value: { result: { sample: string } } }).value.result.sample,
      'image',
      null,
    )
    expect(image).toEqual({ ok: true, value: { status: 200, width: 320, height: 256 } })
    expect(errors).toEqual([])
    await close()
  })

  it("listed: OpenAI's browser build generates an image (its x-stainless-* headers allowed)", async () => {
    const { page, errors, close } = await openPageAt(browser, listed)
    expect(await openaiFromPage(page, withCors.url)).toEqual({ ok: true, value: { width: 512, height: 512 } })
    expect(errors).toEqual([])
    await close()
  })

  it("listed: OpenAI's browser build retries a client-side timeout, and the retry joins the one job", async () => {
    const { page, errors, close } = await openPageAt(browser, listed)
    const prompt = 'a browser call that times out'
    const jobs = async () =>
      ((await api(`${withCors.url}/api/jobs?limit=100`)).body.data as { id: string; request: any }[]).filter(
        (job) => job.request.prompt === prompt,
      )
    // The page's retry goes out once the server has left the first try's job for it (its
    // metric says so), as the SDK's own backoff lets it: an event, not a delay; bounded.
    const before = await metricValue(withCors, unansweredSeries('left'))
    await page.exposeFunction('firstJobMade', () => metricAbove(withCors, unansweredSeries('left'), before))
    const outcome = await page.evaluate(
      async ({ apiUrl, key, prompt }) => {
        const { OpenAI } = globalThis as unknown as PageGlobals
        const firstJobMade = (globalThis as unknown as { firstJobMade(): Promise<void> }).firstJobMade
        const tries: string[] = []
        const client = new OpenAI({
          baseURL: `${apiUrl}/v1`,
          apiKey: key,
          dangerouslyAllowBrowser: true,
          timeout: 1000,
          defaultHeaders: { 'x-fluxhost-simulate': 'slow=3000' },
          fetch: async (url: string | URL | Request, init: RequestInit = {}) => {
            const attempt = new Headers(init.headers).get('x-stainless-retry-count') ?? 'none'
            tries.push(attempt)
            if (attempt === '0') return fetch(url, init)
            await firstJobMade()
            // Past the SDK's own timeout, which would cut the retry's wait short too.
            const { signal: _cut, ...rest } = init
            return fetch(url, rest)
          },
        })
        try {
          const { data, response } = await client.images
            .generate({ model: 'flux-pro/v1.1', prompt, size: '256x256' as never })
            .withResponse()
          return { ok: true, tries, jobId: response.headers.get('x-fluxhost-job-id'), url: data.data![0]!.url! }
        } catch (error) {
          return { ok: false, tries, error: `${(error as Error).name}: ${(error as Error).message}` }
        }
      },
      { apiUrl: withCors.url, key: KEY_A, prompt },
    )
    expect(outcome).toMatchObject({ ok: true, tries: ['0', '1'] })
    // Counted from the client's side: the job its answer named is the one job of that prompt.
    const made = await jobs()
    expect(made.map((job) => job.id)).toEqual([(outcome as { jobId: string }).jobId])
    expect(errors).toEqual([])
    await close()
  })

  it('not listed: the browser refuses every call, and no job is made', async () => {
    const jobs = () => withCors.fluxhost.store.jobs.countByState()
    const before = await jobs()
    const { page, close } = await openPageAt(browser, unlisted)
    expect(await createFromPage(page, withCors.url, 'refused')).toEqual({
      ok: false,
      error: 'TypeError: Failed to fetch',
    })
    expect(await openaiFromPage(page, withCors.url)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/Connection error/),
    })
    expect(await jobs()).toEqual(before)
    // A plain GET goes out (no preflight), but the page may not read the answer.
    const created = await api(`${withCors.url}/v1/flux-pro-1.1`, { body: { prompt: 'x', width: 256, height: 256 } })
    await withCors.waitForJob(created.body.id)
    const sample = (await api(created.body.polling_url)).body.result.sample as string
    expect(await getFromPage(page, sample, 'image', null)).toEqual({ ok: false, error: 'TypeError: Failed to fetch' })
    await close()
  })

  it('CORS off (the default): the same calls fail, as before', async () => {
    const { page, close } = await openPageAt(browser, listed)
    expect(await createFromPage(page, withoutCors.url, 'off')).toEqual({
      ok: false,
      error: 'TypeError: Failed to fetch',
    })
    expect(await openaiFromPage(page, withoutCors.url)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/Connection error/),
    })
    const created = await api(`${withoutCors.url}/v1/flux-pro-1.1`, { body: { prompt: 'x', width: 256, height: 256 } })
    await withoutCors.waitForJob(created.body.id)
    const sample = (await api(created.body.polling_url)).body.result.sample as string
    expect(await getFromPage(page, sample, 'image', null)).toEqual({ ok: false, error: 'TypeError: Failed to fetch' })
    await close()
  })
})
