import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

let server: TestServer
let hooks: Awaited<ReturnType<typeof startReceiver>>

beforeAll(async () => {
  server = await startTestServer({
    FLUXHOST_ALLOW_SIMULATE: '1',
    FLUXHOST_ALLOW_PRIVATE_URLS: '1',
    FLUXHOST_WEBHOOK_RETRY_SCHEDULE: '0',
  })
  hooks = await startReceiver()
})
afterAll(async () => {
  await server?.close()
  await hooks?.close()
})

const admin = (path: string, init: Parameters<typeof api>[1] = {}) =>
  api(`${server.url}${path}`, { key: KEY_A, ...init })

describe('the admin API', () => {
  it('is for admin-scoped keys only: 401 without a key, 403 with a user key', async () => {
    const created = await admin('/api/admin/keys', { body: { name: 'alice' } })
    expect(created.status).toBe(201)
    expect(created.body.apiKey).toMatchObject({ name: 'alice', scope: 'user', revokedAt: null })
    const user = created.body.key as string
    for (const path of [
      '/api/admin/keys',
      '/api/admin/queue',
      '/api/admin/deliveries',
      '/api/admin/engines',
      '/api/admin/usage',
    ]) {
      expect((await api(`${server.url}${path}`, { key: null })).status, path).toBe(401)
      const forbidden = await api(`${server.url}${path}`, { key: user })
      expect(forbidden.status, path).toBe(403)
      expect(forbidden.body.error.code).toBe('FORBIDDEN')
    }
    expect((await admin('/api/admin/keys', { body: { name: '' } })).body.error.code).toBe('VALIDATION_FAILED')
    expect((await admin('/api/admin/keys', { body: { name: 'x', scope: 'root' } })).status).toBe(422)
  })

  it('lists keys with their spend; a revoked key stops working at once', async () => {
    const { key, apiKey } = (await admin('/api/admin/keys', { body: { name: 'bob' } })).body
    const job = await api(`${server.url}/api/jobs`, { key, body: { prompt: 'bob pays', numImages: 2 } })
    expect((await server.waitForJob(job.body.id)).state).toBe('succeeded')
    const listed = (await admin('/api/admin/keys')).body.data.find((k: { id: string }) => k.id === apiKey.id)
    expect(listed.usage).toEqual({
      total: { usd: '0.08', images: 2, jobs: 1 },
      last30Days: { usd: '0.08', images: 2, jobs: 1 },
    })
    expect(listed.lastUsedAt).not.toBeNull()

    const revoked = await admin(`/api/admin/keys/${apiKey.id}/revoke`, { method: 'POST' })
    expect(revoked.body.revokedAt).not.toBeNull()
    expect((await api(`${server.url}/api/me`, { key })).status).toBe(401)
    expect((await admin('/api/admin/keys/key_nope/revoke', { method: 'POST' })).status).toBe(404)
  })

  it('revoking a key cancels its queued and running jobs: they never run on, and nothing is charged', async () => {
    const gone = await startReceiver()
    try {
      const { key, apiKey } = (await admin('/api/admin/keys', { body: { name: 'dave' } })).body
      const create = (body: object, simulate = 'slow=3000') =>
        api(`${server.url}/api/jobs`, { key, body, headers: simulate ? { 'x-fluxhost-simulate': simulate } : {} })
      // Two slow jobs take both of the worker's slots; two more wait behind them.
      const running = [(await create({ prompt: 'run 1' })).body.id, (await create({ prompt: 'run 2' })).body.id]
      await Promise.all(running.map((id: string) => server.waitUntilRunning(id)))
      const queued = [
        (await create({ prompt: 'wait 1', webhookUrl: gone.url }, '')).body.id,
        (await create({ prompt: 'wait 2', numImages: 4 }, '')).body.id,
      ]

      const revoked = await admin(`/api/admin/keys/${apiKey.id}/revoke`, { method: 'POST' })
      expect(revoked.status).toBe(200)
      expect(revoked.body).toMatchObject({ id: apiKey.id, revokedAt: expect.any(String), canceledJobs: 4 })
      for (const id of [...running, ...queued]) {
        expect(await server.waitForJob(id)).toMatchObject({
          state: 'canceled',
          error: { code: 'JOB_CANCELED', message: expect.stringContaining('API key was revoked') },
        })
      }
      // Webhooks see the cancel, as for any canceled job.
      const [hook] = await gone.received(1)
      expect(hook!.body).toContain(queued[0])
      expect(hook!.body).toContain('canceled')

      // The worker goes on with other keys' work; the revoked key's jobs stay canceled, the
      // queued ones never started, and the key was charged nothing.
      const after = await admin('/api/jobs', { body: { prompt: 'after the revocation' } })
      expect((await server.waitForJob(after.body.id)).state).toBe('succeeded')
      for (const id of queued) {
        expect(await server.fluxhost.services.jobs.get(id, undefined)).toMatchObject({
          state: 'canceled',
          startedAt: null,
        })
      }
      for (const id of running) expect((await server.fluxhost.services.jobs.get(id, undefined)).state).toBe('canceled')
      const listed = (await admin('/api/admin/keys')).body.data.find((k: { id: string }) => k.id === apiKey.id)
      expect(listed.usage.total).toEqual({ usd: '0.00', images: 0, jobs: 0 })
      const daily = (await admin(`/api/admin/usage?days=1&keyId=${apiKey.id}`)).body.daily
      expect(daily).toEqual([{ day: expect.any(String), usd: '0.00', images: 0, jobs: 0 }])
      expect((await api(`${server.url}/api/usage`, { key })).status).toBe(401)
    } finally {
      await gone.close()
    }
  })

  it('refuses to revoke the last active admin key (409); your own goes while another remains', async () => {
    // No FLUXHOST_API_KEYS: the keys in the records are the only admins.
    const lone = await startTestServer({ FLUXHOST_API_KEYS: '' })
    try {
      const root = (await lone.fluxhost.services.keys.create('root', 'admin')).key
      const as = (key: string, path: string, init: Parameters<typeof api>[1] = {}) =>
        api(`${lone.url}${path}`, { key, ...init })
      const rootId = (await as(root, '/api/me')).body.id
      const refused = await as(root, `/api/admin/keys/${rootId}/revoke`, { method: 'POST' })
      expect(refused.status).toBe(409)
      expect(refused.body.error).toMatchObject({
        code: 'LAST_ADMIN_KEY',
        message: expect.stringMatching(/"root" is the last active admin key.*Create another admin key first/),
        requestId: expect.any(String),
      })
      expect((await as(root, '/api/me')).status).toBe(200)

      const ops = (await as(root, '/api/admin/keys', { body: { name: 'ops', scope: 'admin' } })).body
      const own = await as(root, `/api/admin/keys/${rootId}/revoke`, { method: 'POST' })
      expect(own.status).toBe(200)
      expect((await as(root, '/api/me')).status).toBe(401)
      const last = await as(ops.key, `/api/admin/keys/${ops.apiKey.id}/revoke`, { method: 'POST' })
      expect(last.status).toBe(409)
      expect(last.body.error.code).toBe('LAST_ADMIN_KEY')
      // A user key never counts, and always goes.
      const user = (await as(ops.key, '/api/admin/keys', { body: { name: 'user' } })).body
      expect((await as(ops.key, `/api/admin/keys/${user.apiKey.id}/revoke`, { method: 'POST' })).status).toBe(200)
    } finally {
      await lone.close()
    }
  })

  it("rotates a key's webhook secret", async () => {
    const { key, apiKey } = (await admin('/api/admin/keys', { body: { name: 'carol' } })).body
    const before = (await api(`${server.url}/api/webhook-secret`, { key })).body.secret
    const rotated = await admin(`/api/admin/keys/${apiKey.id}/webhook-secret`, { method: 'POST' })
    expect(rotated.body.secret).toMatch(/^whsec_/)
    expect(rotated.body.secret).not.toBe(before)
    expect((await api(`${server.url}/api/webhook-secret`, { key })).body.secret).toBe(rotated.body.secret)
  })

  it('gives spend per day with empty days, the queue with recent failures, deliveries and engines', async () => {
    const failed = await admin('/api/jobs', { body: { prompt: 'doomed' }, headers: { 'x-fluxhost-simulate': 'error' } })
    expect((await server.waitForJob(failed.body.id)).state).toBe('failed')
    const hooked = await admin('/api/jobs', { body: { prompt: 'hooked', webhookUrl: hooks.url } })
    await server.waitForJob(hooked.body.id)
    await hooks.received(1)

    const usage = (await admin('/api/admin/usage?days=7')).body
    expect(usage.daily).toHaveLength(7)
    expect(usage.daily.at(-1).day).toBe(new Date().toISOString().slice(0, 10))
    expect(Number(usage.daily.at(-1).usd)).toBeGreaterThan(0)
    expect(usage.daily[0]).toEqual({ day: expect.any(String), usd: '0.00', images: 0, jobs: 0 })

    const queue = (await admin('/api/admin/queue')).body
    expect(queue).toMatchObject({ depth: 0, counts: { failed: expect.any(Number) } })
    expect(queue.recentFailures[0]).toMatchObject({
      id: failed.body.id,
      error: { code: expect.any(String), message: expect.stringContaining('simulated') },
    })

    const deliveries = (await admin('/api/admin/deliveries')).body.data
    const delivery = deliveries.find((d: { jobId: string }) => d.jobId === hooked.body.id)
    await expect.poll(async () => (await admin(`/api/deliveries/${delivery.id}`)).body.state).toBe('delivered')
    const again = await admin(`/api/admin/deliveries/${delivery.id}/redeliver`, { method: 'POST' })
    expect(again.status).toBe(202)
    await hooks.received(2)
    expect((await admin('/api/admin/deliveries?state=bogus')).status).toBe(422)

    const engines = (await admin('/api/admin/engines')).body
    expect(engines.models[0]).toMatchObject({ id: 'flux-pro-1.1', engines: [{ name: 'preview', reachable: true }] })
    expect(engines.latency).toEqual([
      expect.objectContaining({
        engine: 'preview',
        jobs: expect.any(Number),
        p50Ms: expect.any(Number),
        p95Ms: expect.any(Number),
      }),
    ])
  })
})
