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
