import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, KEY_A, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'
import { openRawDb } from '../helpers/store.js'

let server: TestServer
beforeAll(async () => {
  // 5 s: the sync tests' jobs must finish inside it on a loaded machine, the 504 test's not.
  server = await startTestServer({ FLUXHOST_SYNC_TIMEOUT_S: '5', FLUXHOST_IDEMPOTENCY_TTL: '1h' })
})
afterAll(() => server.close())

const ikey = () => `"${randomUUID()}"`
const jobCount = async (key = KEY_A) =>
  (await api(`${server.url}/api/jobs?limit=100`, { key })).body.data.length as number
const charged = async (key = KEY_A) => (await api(`${server.url}/api/usage`, { key })).body.total.jobs as number

// One body per create route, each valid for its dialect.
const routes = [
  {
    name: 'BFL',
    path: '/v1/flux-pro-1.1',
    body: { prompt: 'an idempotent apple', width: 256, height: 256 },
    status: 200,
    id: (b: any) => b.id,
  },
  {
    name: 'SeaArt',
    path: '/v1/queue/flux_pro_11',
    body: { prompt: 'an idempotent apple', width: 256, height: 256 },
    status: 200,
    id: (b: any) => b.request_id,
  },
  {
    name: 'Apiframe',
    path: '/v2/images/generate',
    body: {
      prompt: 'an idempotent apple',
      model: 'flux-1.1-pro',
      fluxParams: { aspect_ratio: 'custom', width: 256, height: 256 },
    },
    status: 202,
    id: (b: any) => b.jobId,
  },
  {
    name: 'native',
    path: '/api/jobs',
    body: { prompt: 'an idempotent apple', width: 256, height: 256 },
    status: 202,
    id: (b: any) => b.id,
  },
]

describe('Idempotency-Key on every create route', () => {
  it.each(routes)('$name: the same key and body replay the first answer; no new job, no new charge', async (route) => {
    const key = ikey()
    const before = await jobCount()
    const first = await api(`${server.url}${route.path}`, { body: route.body, headers: { 'idempotency-key': key } })
    expect(first.status).toBe(route.status)
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    await server.waitForJob(route.id(first.body))
    const chargedBefore = await charged()

    // Same body with its keys in another order, and the same key: a replay.
    const reordered = Object.fromEntries(Object.entries(route.body).reverse())
    const second = await api(`${server.url}${route.path}`, { body: reordered, headers: { 'idempotency-key': key } })
    expect(second.status).toBe(route.status)
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(second.text).toBe(first.text)
    expect(await jobCount()).toBe(before + 1)
    expect(await charged()).toBe(chargedBefore)

    // The same key with another body is refused, in the dialect's shape.
    const other = await api(`${server.url}${route.path}`, {
      body: { ...route.body, prompt: 'a different apple' },
      headers: { 'idempotency-key': key },
    })
    // Apiframe's SDK reads a reused key as a 409 (its ConflictError); the others answer 422.
    expect(other.status).toBe(route.name === 'Apiframe' ? 409 : 422)
    expect(other.text).toMatch(/already used with a different request/)
    expect(await jobCount()).toBe(before + 1)
  })

  it('the key belongs to one API key: another key with the same Idempotency-Key makes its own job', async () => {
    const key = ikey()
    const a = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'scoped', width: 256, height: 256 },
      headers: { 'idempotency-key': key },
    })
    const b = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'scoped', width: 256, height: 256 },
      headers: { 'idempotency-key': key },
      key: KEY_B,
    })
    expect(b.headers.get('idempotent-replayed')).toBeNull()
    expect(b.body.id).not.toBe(a.body.id)
  })

  it('the same key on another route is a different request', async () => {
    const key = ikey()
    await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'route', width: 256, height: 256 },
      headers: { 'idempotency-key': key },
    })
    const seaart = await api(`${server.url}/v1/queue/flux_pro_11`, {
      body: { prompt: 'route', width: 256, height: 256 },
      headers: { 'idempotency-key': key },
    })
    expect(seaart.status).toBe(422)
    expect(seaart.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED')
  })

  it('accepts a bare token as well as an sf-string; refuses malformed keys naming the header', async () => {
    const token = randomUUID()
    const first = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'token' },
      headers: { 'idempotency-key': token },
    })
    const again = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'token' },
      headers: { 'idempotency-key': `"${token}"` },
    })
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.body.id).toBe(first.body.id)
    for (const bad of ['"unterminated', '"a"b"', `"${'x'.repeat(300)}"`, '""']) {
      const bfl = await api(`${server.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'x' },
        headers: { 'idempotency-key': bad },
      })
      expect(bfl.status, bad).toBe(422)
      expect(bfl.body.detail[0].loc).toEqual(['header', 'idempotency-key'])
      const apiframe = await api(`${server.url}/v2/images/generate`, {
        body: { prompt: 'x', model: 'flux-1.1-pro' },
        headers: { 'idempotency-key': bad },
      })
      expect(apiframe.status).toBe(400)
      expect(Object.keys(apiframe.body.details)).toEqual(['header.idempotency-key'])
    }
  })

  it('an answer worth retrying (429) is not kept: the retry runs afresh', async () => {
    const key = ikey()
    const headers = { 'idempotency-key': key, 'x-fluxhost-simulate': 'rate_limited' }
    const first = await api(`${server.url}/v1/flux-pro-1.1`, { body: { prompt: 'busy' }, headers })
    expect(first.status).toBe(429)
    const second = await api(`${server.url}/v1/flux-pro-1.1`, { body: { prompt: 'busy' }, headers })
    expect(second.status).toBe(429)
    expect(second.headers.get('idempotent-replayed')).toBeNull()
  })

  it('a kept key expires after FLUXHOST_IDEMPOTENCY_TTL; then the key makes a new job', async () => {
    const key = ikey()
    const first = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'expiring' },
      headers: { 'idempotency-key': key },
    })
    server.clock.advance(3_600_001)
    const later = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'expiring' },
      headers: { 'idempotency-key': key },
    })
    expect(later.headers.get('idempotent-replayed')).toBeNull()
    expect(later.body.id).not.toBe(first.body.id)
    expect(await server.fluxhost.services.idempotency.sweep()).toBeGreaterThan(0)
  })
})

describe('Idempotency-Key on the synchronous route', () => {
  const generate = (body: unknown, headers: Record<string, string>) =>
    api(`${server.url}/v1/images/generations`, {
      body,
      key: null,
      headers: { authorization: `Bearer ${KEY_B}`, ...headers },
    })

  it('a duplicate while the first still waits → 409; afterwards the finished result is replayed', async () => {
    const key = ikey()
    const body = { model: 'flux-pro/v1.1', prompt: 'sync once', image_size: 'square' }
    const before = await jobCount(KEY_B)
    const firstPromise = generate(body, { 'idempotency-key': key, 'x-fluxhost-simulate': 'slow=700' })
    // Wait until the first request has made its job (it is then holding the key).
    await new Promise<void>((resolve) => {
      const check = async () => ((await jobCount(KEY_B)) > before ? resolve() : setImmediate(() => void check()))
      void check()
    })
    const duplicate = await generate(body, { 'idempotency-key': key, 'x-fluxhost-simulate': 'slow=700' })
    expect(duplicate.status).toBe(409)
    expect(duplicate.body.error.code).toBe('IDEMPOTENCY_KEY_IN_USE')
    const first = await firstPromise
    expect(first.status).toBe(201)

    const replay = await generate(body, { 'idempotency-key': key, 'x-fluxhost-simulate': 'slow=700' })
    expect(replay.status).toBe(201)
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(replay.body.seed).toBe(first.body.seed)
    expect(replay.body.images.map((i: any) => new URL(i.url).pathname)).toEqual(
      first.body.images.map((i: any) => new URL(i.url).pathname),
    )
    expect(await jobCount(KEY_B)).toBe(before + 1)
  })

  it('after a 504 the retry with the same key waits for the same job instead of making another', async () => {
    const key = ikey()
    const body = { model: 'flux-pro/v1.1', prompt: 'sync slow', image_size: 'square' }
    const before = await jobCount(KEY_B)
    const timedOut = await generate(body, { 'idempotency-key': key, 'x-fluxhost-simulate': 'slow=7000' })
    expect(timedOut.status).toBe(504)
    const retry = await generate(body, { 'idempotency-key': key, 'x-fluxhost-simulate': 'slow=7000' })
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.body.images[0].url).toContain(timedOut.body.error.job_id)
    expect(await jobCount(KEY_B)).toBe(before + 1)
  })
})

describe('Idempotency-Key when the request holding it dies', () => {
  it('a sync request that made its job and died leaves a key that replays that job, not a new one', async () => {
    // Long leases: the clock jump below must not make the running job look abandoned.
    const s = await startTestServer({ FLUXHOST_SYNC_TIMEOUT_S: '30', FLUXHOST_LEASE_MS: '600000' })
    try {
      const key = ikey()
      const body = { model: 'flux-pro/v1.1', prompt: 'holder dies', image_size: 'square' }
      const headers = { authorization: `Bearer ${KEY_B}`, 'idempotency-key': key, 'x-fluxhost-simulate': 'slow=1500' }
      const jobs = async () => (await api(`${s.url}/api/jobs?limit=100`, { key: KEY_B })).body.data as any[]
      const first = api(`${s.url}/v1/images/generations`, { body, key: null, headers })
      // Once its job exists and the key has it written down (a second statement after the
      // job's insert), the first request holds the key with the job.
      const raw = openRawDb(s.recordsAt)
      const attached = async () =>
        (
          await raw
            .selectFrom('idempotency_keys')
            .select('job_id')
            .where('key', '=', JSON.parse(key) as string)
            .executeTakeFirst()
        )?.job_id ?? null
      const made = await new Promise<any>((resolve, reject) => {
        const check = async () => {
          const list = await jobs()
          if (list.length > 0 && (await attached()) === list[0].id) resolve(list[0])
          else setImmediate(() => void check().catch(reject))
        }
        void check().catch(reject)
      })
      await raw.destroy()
      // Its lock (sync timeout + 60 s) runs out, as if its server had died: a retry gets that job's images.
      s.clock.advance(90_001)
      const retry = await api(`${s.url}/v1/images/generations`, { body, key: null, headers })
      expect(retry.status).toBe(201)
      expect(retry.headers.get('idempotent-replayed')).toBe('true')
      expect(retry.body.images[0].url).toContain(made.id)
      expect((await first).status).toBe(201)
      expect(await jobs()).toHaveLength(1)
    } finally {
      await s.close()
    }
  })
})
