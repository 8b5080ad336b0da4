import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'
import { openRawDb, queuedJob } from '../helpers/store.js'

// A create that passed auth just before its key's revocation committed can insert its job
// after the revocation canceled the key's jobs. The worker that claims it cancels it instead
// of running it: never generated, never charged.
let s: TestServer
beforeAll(async () => {
  s = await startTestServer()
})
afterAll(async () => {
  await s?.close()
})

describe("a job that slipped in after its key's revocation", () => {
  it('is canceled by the worker that claims it, not run and not charged', async () => {
    const created = await api(`${s.url}/api/admin/keys`, { key: KEY_A, body: { name: 'late' } })
    const { apiKey, key } = created.body as { apiKey: { id: string }; key: string }
    expect((await api(`${s.url}/api/admin/keys/${apiKey.id}/revoke`, { key: KEY_A, body: {} })).status).toBe(200)
    // The racing create's insert, landing after the revocation (the service would refuse it now).
    const store = await s.openRecords()
    const id = randomUUID()
    try {
      await store.jobs.insert(queuedJob(id, { apiKeyId: apiKey.id, createdAt: new Date() }))
    } finally {
      await store.close()
    }
    const job = await s.waitForJob(id)
    expect(job).toMatchObject({ state: 'canceled', attempts: 1, error: { code: 'JOB_CANCELED' } })
    expect(job.error?.message).toMatch(/revoked/)
    const raw = openRawDb(s.recordsAt)
    try {
      expect(await raw.selectFrom('charges').selectAll().where('job_id', '=', id).execute()).toEqual([])
    } finally {
      await raw.destroy()
    }
    expect((await api(`${s.url}/api/usage`, { key })).status).toBe(401)
  })
})
