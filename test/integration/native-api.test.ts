import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readSse } from '../../src/cli/sse.js'
import { api, fetchStatus, KEY_A, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ FLUXHOST_WORKER_CONCURRENCY: '2' })
})
afterAll(async () => {
  await server.close()
})

const create = (body: Record<string, unknown> = {}, headers: Record<string, string> = {}, key = KEY_A) =>
  api(`${server.url}/api/jobs`, { body: { prompt: 'native', width: 256, height: 256, ...body }, headers, key })

describe('native jobs API', () => {
  it('creates, gets and renders a job with signed image URLs and its cost', async () => {
    const created = await create({ numImages: 2, outputFormat: 'png', seed: 5 })
    expect(created.status).toBe(202)
    expect(created.body).toMatchObject({
      object: 'job',
      state: 'queued',
      model: 'flux-pro-1.1',
      dialect: 'native',
      cost: { usd: '0.08', charged: false },
    })
    await server.waitForJob(created.body.id)
    const { body: job } = await api(`${server.url}/api/jobs/${created.body.id}`)
    expect(job).toMatchObject({
      state: 'succeeded',
      progress: 1,
      engine: 'preview',
      attempts: 1,
      cost: { usd: '0.08', charged: true },
    })
    expect(job.result.images).toHaveLength(2)
    expect(job.result.images[0]).toMatchObject({ width: 256, height: 256, contentType: 'image/png' })
    for (const image of job.result.images) expect(await fetchStatus(image.url)).toBe(200)
    const charge = await server.fluxhost.store.charges.forJob(job.id)
    expect(charge).toMatchObject({ amount_micros: 80_000, images: 2 })
    const usage = await api(`${server.url}/api/usage`)
    expect(usage.body.total.usd).not.toBe('0.00')
  })

  it('validates with named fields and unknown fields are refused', async () => {
    const response = await create({ width: 300, bogus: 1, numImages: 9 })
    expect(response.status).toBe(422)
    expect(response.body.error.code).toBe('VALIDATION_FAILED')
    expect(response.body.error.issues.map((i: { loc: string[] }) => i.loc.join('.')).sort()).toEqual([
      'body.bogus',
      'body.numImages',
    ])
    const size = await create({ width: 300 })
    expect(size.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'width: Input should be a multiple of 32',
    })
    const noKey = await api(`${server.url}/api/jobs`, { key: null })
    expect(noKey.status).toBe(401)
    expect(noKey.body.error).toMatchObject({ code: 'UNAUTHORIZED', requestId: noKey.headers.get('x-request-id') })
  })

  it("lists only the caller's jobs, newest first, with a cursor", async () => {
    const mine = []
    for (let i = 0; i < 3; i++) mine.push((await create({ prompt: `list ${i}` }, {}, KEY_B)).body.id)
    const first = await api(`${server.url}/api/jobs?limit=2`, { key: KEY_B })
    expect(first.body.data.map((j: { id: string }) => j.id)).toEqual([mine[2], mine[1]])
    const second = await api(`${server.url}/api/jobs?limit=2&cursor=${first.body.nextCursor}`, { key: KEY_B })
    expect(second.body.data.map((j: { id: string }) => j.id)).toEqual([mine[0]])
    expect(second.body.nextCursor).toBeNull()
    expect((await api(`${server.url}/api/jobs?limit=500`)).status).toBe(422)
    expect((await api(`${server.url}/api/jobs?state=bogus`)).status).toBe(422)
  })

  it('filters the list by prompt text (literally, any case), model and state, with the cursor', async () => {
    const key = KEY_B
    const made = []
    for (const [prompt, model] of [
      ['A RED apple, 100% juicy', 'flux-pro-1.1'],
      ['a red_apple on a table', 'flux-dev'],
      ['a green pear', 'flux-pro-1.1'],
    ] as const)
      made.push((await create({ prompt, model }, {}, key)).body.id)
    for (const id of made) await server.waitForJob(id)
    const ids = async (query: string) =>
      (await api(`${server.url}/api/jobs?${query}`, { key })).body.data.map((j: { id: string }) => j.id)
    expect(await ids('prompt=red%20apple')).toEqual([made[0]])
    expect(await ids('prompt=red_apple')).toEqual([made[1]])
    expect(await ids('prompt=100%25')).toEqual([made[0]])
    expect(await ids('prompt=APPLE&model=flux-dev')).toEqual([made[1]])
    expect(await ids('prompt=apple&state=failed')).toEqual([])
    const page = await api(`${server.url}/api/jobs?prompt=a&limit=1`, { key })
    expect(page.body.data.map((j: { id: string }) => j.id)).toEqual([made[2]])
    expect(await ids(`prompt=a&limit=5&cursor=${page.body.nextCursor}`)).toEqual(
      expect.arrayContaining([made[1], made[0]]),
    )
    const bad = await api(`${server.url}/api/jobs?prompt=${'x'.repeat(201)}&model=flux-9`, { key })
    expect(bad.status).toBe(422)
    expect(bad.body.error.issues.map((i: { loc: string[] }) => i.loc.join('.')).sort()).toEqual([
      'query.model',
      'query.prompt',
    ])
  })

  it(
    'cancels a queued job and a running one (aborting the engine); ' + 'canceling again is a no-op; finished → 409',
    async () => {
      // Two slow jobs fill both worker slots, so the third stays queued.
      const running = [
        (await create({}, { 'x-fluxhost-simulate': 'slow=20000' })).body.id,
        (await create({}, { 'x-fluxhost-simulate': 'slow=20000' })).body.id,
      ]
      const queued = (await create()).body.id
      await Promise.all(running.map((id) => server.waitUntilRunning(id)))
      expect((await api(`${server.url}/api/jobs/${queued}`)).body.state).toBe('queued')

      const canceledQueued = await api(`${server.url}/api/jobs/${queued}/cancel`, { method: 'POST' })
      expect(canceledQueued.body).toMatchObject({ state: 'canceled', error: { code: 'JOB_CANCELED' } })

      const canceledRunning = await api(`${server.url}/api/jobs/${running[0]}/cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      })
      expect(canceledRunning.status).toBe(200)
      expect(canceledRunning.body.state).toBe('canceled')
      await api(`${server.url}/api/jobs/${running[1]}/cancel`, { method: 'POST' })
      // The slots free up at once (not after 20 s), which proves the engines were aborted.
      const next = (await create()).body.id
      expect((await server.waitForJob(next)).state).toBe('succeeded')
      expect(server.fluxhost.runner?.running()).toBe(0)
      expect((await server.fluxhost.store.jobs.get(running[0]!))?.state).toBe('canceled')
      expect(await server.fluxhost.blobs.stat(`jobs/${running[0]}/a1/0.jpeg`)).toBeUndefined()

      expect((await api(`${server.url}/api/jobs/${queued}/cancel`, { method: 'POST' })).status).toBe(200)
      const finished = await api(`${server.url}/api/jobs/${next}/cancel`, { method: 'POST' })
      expect(finished.status).toBe(409)
      expect(finished.body.error.code).toBe('JOB_NOT_CANCELABLE')
      expect((await api(`${server.url}/api/jobs/nope/cancel`, { method: 'POST' })).status).toBe(404)
    },
  )

  it(
    'gives each image a thumbnail: a WebP inside 512 px, made once, ' + 'signed like the image, gone with the job',
    async () => {
      const { body } = await create({ width: 1440, height: 768 })
      await server.waitForJob(body.id)
      const [image] = (await api(`${server.url}/api/jobs/${body.id}`)).body.result.images
      expect(image.thumbnailUrl).toMatch(/\.thumb\.webp\?exp=\d+&sig=/)
      // A gallery asks for it several times at once; each answer is the same small WebP.
      const answers = await Promise.all([1, 2, 3].map(() => fetch(image.thumbnailUrl)))
      const [first, ...others] = await Promise.all(answers.map(async (r) => Buffer.from(await r.arrayBuffer())))
      for (const r of answers) expect([r.status, r.headers.get('content-type')]).toEqual([200, 'image/webp'])
      const meta = await sharp(first).metadata()
      expect([meta.format, meta.width, meta.height]).toEqual(['webp', 512, 273])
      for (const other of others) expect(other).toEqual(first)
      expect(first!.length).toBeLessThan(image.bytes / 2)
      const url = new URL(image.thumbnailUrl)
      url.searchParams.set('sig', 'x'.repeat(url.searchParams.get('sig')!.length))
      expect((await fetch(url)).status).toBe(403)
      // Signing the image does not sign its thumbnail.
      const forged = new URL(image.url)
      forged.pathname += '.thumb.webp'
      expect((await fetch(forged)).status).toBe(403)
      expect((await api(`${server.url}/api/jobs/${body.id}`, { method: 'DELETE' })).status).toBe(204)
      expect((await fetch(image.thumbnailUrl)).status).toBe(404)
    },
  )

  it(
    'deletes a finished job: gone from reads, lists and files, its charge kept; ' + 'a running one is refused',
    async () => {
      const { body } = await create()
      const done = await server.waitForJob(body.id)
      const image = (await api(`${server.url}/api/jobs/${body.id}`)).body.result.images[0].url
      expect((await fetch(image)).status).toBe(200)
      const usageBefore = (await api(`${server.url}/api/usage`)).body.total
      expect((await api(`${server.url}/api/jobs/${body.id}`, { method: 'DELETE', key: KEY_B })).status).toBe(404)
      expect((await api(`${server.url}/api/jobs/${body.id}`, { method: 'DELETE' })).status).toBe(204)
      expect((await api(`${server.url}/api/jobs/${body.id}`)).status).toBe(404)
      expect((await api(`${server.url}/v1/get_result?id=${body.id}`)).body.status).toBe('Task not found')
      expect((await api(`${server.url}/api/jobs?limit=100`)).body.data.map((j: { id: string }) => j.id)).not.toContain(
        body.id,
      )
      expect((await fetch(image)).status).toBe(404)
      expect((await api(`${server.url}/api/usage`)).body.total).toEqual(usageBefore)
      expect((await api(`${server.url}/api/jobs/${body.id}`, { method: 'DELETE' })).status).toBe(404)
      expect(done.state).toBe('succeeded')
      // The record kept for metering holds neither the prompt nor the result any more: it
      // reads as a succeeded job with no images.
      const kept = await server.fluxhost.store.jobs.get(body.id)
      expect(kept).toMatchObject({
        state: 'succeeded',
        result: { images: [], prompt: '' },
        costMicros: 40_000,
        request: { prompt: '', width: 256, height: 256 },
      })
      expect(kept!.deletedAt).toBeInstanceOf(Date)

      const slow = (await create({}, { 'x-fluxhost-simulate': 'slow=20000' })).body.id
      const refused = await api(`${server.url}/api/jobs/${slow}`, { method: 'DELETE' })
      expect(refused.status).toBe(409)
      expect(refused.body.error.code).toBe('JOB_NOT_FINISHED')
      await api(`${server.url}/api/jobs/${slow}/cancel`, { method: 'POST' })
      expect((await api(`${server.url}/api/jobs/${slow}`, { method: 'DELETE' })).status).toBe(204)
    },
  )

  it('streams state and progress as server-sent events until the job ends', async () => {
    const { body } = await create({}, { 'x-fluxhost-simulate': 'slow=800' })
    const response = await fetch(`${server.url}/api/jobs/${body.id}/events`, { headers: { 'x-key': KEY_A } })
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const events: { event: string; data: any }[] = []
    for await (const event of readSse(response.body!)) events.push({ event: event.event, data: JSON.parse(event.data) })
    const states = events.filter((e) => e.event === 'state').map((e) => e.data.state)
    expect(states[0]).toMatch(/queued|running/)
    expect(states.at(-1)).toBe('succeeded')
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress)
    expect(progress.length).toBeGreaterThan(2)
    expect([...progress].sort((a, b) => a - b)).toEqual(progress)
    expect(events.at(-1)!.data.result.images[0].url).toContain('/files/')
  })

  it('the event stream of a finished job sends one state and ends; another key gets 404', async () => {
    const { body } = await create()
    await server.waitForJob(body.id)
    const response = await fetch(`${server.url}/api/jobs/${body.id}/events`, { headers: { 'x-key': KEY_A } })
    const events = []
    for await (const event of readSse(response.body!)) events.push(event)
    expect(events).toHaveLength(1)
    expect(await fetchStatus(`${server.url}/api/jobs/${body.id}/events`, { headers: { 'x-key': KEY_B } })).toBe(404)
  })
})

describe('files', () => {
  it('403 for a bad or missing signature, 403 once expired, 404 for unknown or escaping paths', async () => {
    const { body } = await create()
    const job = await server.waitForJob(body.id)
    const { body: rendered } = await api(`${server.url}/api/jobs/${job.id}`)
    const url = new URL(rendered.result.images[0].url)
    expect(await fetchStatus(url.toString())).toBe(200)

    const tampered = new URL(url)
    tampered.searchParams.set('sig', `${url.searchParams.get('sig')!.slice(0, -2)}xx`)
    const bad = await api(tampered.toString(), { key: null })
    expect(bad.status).toBe(403)
    expect(bad.body.error.code).toBe('FILE_SIGNATURE_INVALID')
    expect((await api(`${url.origin}${url.pathname}`, { key: null })).status).toBe(403)

    const signer = server.fluxhost.signer
    const ghost = signer.sign('jobs/ghost/a1/0.jpeg')
    expect(
      (await api(`${server.url}/files/jobs/ghost/a1/0.jpeg?exp=${ghost.exp}&sig=${ghost.sig}`, { key: null })).status,
    ).toBe(404)
    for (const path of [
      '/files/../secret',
      '/files/%2e%2e/secret',
      '/files/jobs/..%2f..%2fsecret',
      '/files/..%2Ffluxhost.db',
    ]) {
      const escaped = signer.sign(decodeURIComponent(path.slice('/files/'.length)))
      const response = await fetch(`${server.url}${path}?exp=${escaped.exp}&sig=${escaped.sig}`)
      expect([403, 404], path).toContain(response.status)
      expect(await response.text()).not.toMatch(/^[0-9a-f]{64}/)
    }

    server.clock.advance(3661_000)
    const expired = await api(url.toString(), { key: null })
    expect(expired.status).toBe(403)
    expect(expired.body.error.code).toBe('FILE_URL_EXPIRED')
  })
})

describe('system routes', () => {
  it('health, models, metrics, openapi and docs answer', async () => {
    const health = await api(`${server.url}/api/health`, { key: null })
    expect(health.body).toMatchObject({ status: 'ok', database: 'ok', worker: { enabled: true, concurrency: 2 } })
    const models = await api(`${server.url}/api/models`, { key: null })
    expect(models.body.data[0]).toMatchObject({
      id: 'flux-pro-1.1',
      priceUsd: 0.04,
      engines: ['preview'],
      engineStatus: [{ name: 'preview', reachable: true }],
      size: { min: 256, max: 1440, multipleOf: 32 },
    })
    const metrics = await fetch(`${server.url}/metrics`)
    const text = await metrics.text()
    for (const name of [
      'fluxhost_jobs{state="succeeded"}',
      'fluxhost_queue_depth',
      'fluxhost_engine_duration_seconds_bucket',
      'fluxhost_http_request_duration_seconds_bucket',
    ]) {
      expect(text).toContain(name)
    }
    const openapi = await api(`${server.url}/openapi.json`, { key: null })
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/flux-pro-1.1',
        '/v1/get_result',
        '/api/jobs',
        '/api/jobs/{id}',
        '/api/jobs/{id}/cancel',
        '/api/jobs/{id}/events',
      ]),
    )
    expect(await fetchStatus(`${server.url}/docs`)).toBe(200)
    const notFound = await api(`${server.url}/api/nothing`, { key: null })
    expect(notFound.body.error.code).toBe('NOT_FOUND')
    expect((await api(`${server.url}/v1/flux-nothing`, { body: {} })).body).toEqual({ detail: 'Not Found' })
  })

  it('/api/me names the calling key; no key or a wrong one is 401', async () => {
    expect((await api(`${server.url}/api/me`)).body).toMatchObject({ name: 'FLUXHOST_API_KEYS[0]', scope: 'admin' })
    expect((await api(`${server.url}/api/me`, { key: null })).status).toBe(401)
    expect((await api(`${server.url}/api/me`, { key: 'fh_wrong' })).status).toBe(401)
  })

  it('serves the playground at / with its scripts, and nothing from elsewhere', async () => {
    const page = await fetch(`${server.url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    // The page is revalidated at every load; what it names is cached for good (hashed names).
    expect(page.headers.get('cache-control')).toBe('no-cache')
    const html = await page.text()
    expect(html).not.toMatch(/https?:\/\//)
    const assets = [...html.matchAll(/(?:src|href)="(\/web\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets.map((a) => a.replace(/-[A-Z0-9]{8}\./, '-HASH.'))).toEqual([
      '/web/index-HASH.css',
      '/web/index-HASH.js',
    ])
    for (const asset of assets) {
      const response = await fetch(`${server.url}${asset}`)
      expect(response.status, asset).toBe(200)
      expect(response.headers.get('cache-control'), asset).toBe('public, max-age=31536000, immutable')
      expect(await response.text(), asset).not.toMatch(/(src|href)=["']https?:/)
      // Stored compressed: brotli or gzip as the client takes them (undici's fetch decodes both).
      for (const encoding of ['br', 'gzip']) {
        const compressed = await fetch(`${server.url}${asset}`, { headers: { 'accept-encoding': encoding } })
        expect(compressed.headers.get('content-encoding'), asset).toBe(encoding)
        expect(compressed.headers.get('vary'), asset).toContain('accept-encoding')
        await compressed.arrayBuffer()
      }
    }
    // The sources are not served: only what the build made.
    expect((await fetch(`${server.url}/web/app.js`)).status).toBe(404)
    expect((await fetch(`${server.url}/web/%2e%2e/%2e%2e/%2e%2e/package.json`)).status).toBe(404)
  })
})
