import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer

beforeAll(async () => {
  // One worker slot: a slow job holds it, and the next one waits in the queue.
  server = await startTestServer({ FLUXHOST_ALLOW_SIMULATE: '1', FLUXHOST_WORKER_CONCURRENCY: '1' })
})
afterAll(async () => {
  await server?.close()
})

const admin = (path: string, init: Parameters<typeof api>[1] = {}) =>
  api(`${server.url}${path}`, { key: KEY_A, ...init })

/** A user key of its own, and a way to create jobs with it. */
async function userKey(name: string) {
  const { key, apiKey } = (await admin('/api/admin/keys', { body: { name } })).body
  const create = (prompt: string, simulate = '') =>
    api(`${server.url}/api/jobs`, {
      key,
      body: { prompt, seed: 7, width: 512, height: 768 },
      headers: simulate ? { 'x-fluxhost-simulate': simulate } : {},
    })
  return { key: key as string, id: apiKey.id as string, create }
}

describe("the admin API's jobs: any key's job, read and canceled", () => {
  it("lists another key's waiting and running jobs in the queue, with the key's name, and cancels both", async () => {
    const erin = await userKey('erin')
    const running = (await erin.create('held', 'slow=60000')).body.id as string
    await server.waitUntilRunning(running)
    const waiting = (await erin.create('behind it')).body.id as string

    const queue = (await admin('/api/admin/queue')).body
    expect(queue.depth).toBe(1)
    expect(queue.queued).toEqual([
      expect.objectContaining({ id: waiting, state: 'queued', key: { id: erin.id, name: 'erin' } }),
    ])
    expect(queue.running).toEqual([
      expect.objectContaining({ id: running, state: 'running', key: { id: erin.id, name: 'erin' } }),
    ])

    // The admin reads it as the owner would, with the key it belongs to and where it waits.
    const read = await admin(`/api/admin/jobs/${waiting}`)
    expect(read.status).toBe(200)
    expect(read.body).toMatchObject({
      id: waiting,
      state: 'queued',
      queuePosition: 0,
      key: { id: erin.id, name: 'erin' },
      request: { prompt: 'behind it', seed: 7, width: 512, height: 768, outputFormat: 'jpeg' },
    })
    const own = (await api(`${server.url}/api/jobs/${waiting}`, { key: erin.key })).body
    const { key: _key, ...native } = read.body
    expect(native).toEqual(own)

    for (const id of [waiting, running]) {
      const canceled = await admin(`/api/admin/jobs/${id}/cancel`, { method: 'POST' })
      expect(canceled.status, id).toBe(200)
      expect(canceled.body).toMatchObject({ id, state: 'canceled', key: { id: erin.id, name: 'erin' } })
      expect((await server.waitForJob(id)).state).toBe('canceled')
    }
    // Canceling a canceled job is no error, as for its owner.
    expect((await admin(`/api/admin/jobs/${running}/cancel`, { method: 'POST' })).body.state).toBe('canceled')
    const after = (await admin('/api/admin/queue')).body
    expect([...after.queued, ...after.running]).toEqual([])
  })

  it('lists the waiting jobs that run next (queue order), not the newest, when more wait than it shows', async () => {
    const gail = await userKey('gail')
    const held = (await gail.create('held', 'slow=60000')).body.id as string
    await server.waitUntilRunning(held)
    const waiting: string[] = []
    for (let i = 0; i < 52; i++) waiting.push((await gail.create(`waiting ${i}`)).body.id as string)
    const queue = (await admin('/api/admin/queue')).body
    expect(queue.depth).toBe(52)
    expect(queue.queued.map((job: { id: string }) => job.id)).toEqual(waiting.slice(0, 50))
    for (const id of [...waiting, held]) await admin(`/api/admin/jobs/${id}/cancel`, { method: 'POST' })
  })

  it("shows a failed job's error, and refuses to cancel a finished job with the API's own error", async () => {
    const frank = await userKey('frank')
    const failed = (await frank.create('doomed', 'error')).body.id as string
    const done = (await frank.create('fine')).body.id as string
    expect((await server.waitForJob(failed)).state).toBe('failed')
    expect((await server.waitForJob(done)).state).toBe('succeeded')

    const read = (await admin(`/api/admin/jobs/${failed}`)).body
    expect(read).toMatchObject({ state: 'failed', error: { message: expect.stringContaining('simulated') } })
    expect(read.queuePosition).toBeUndefined()
    const succeeded = (await admin(`/api/admin/jobs/${done}`)).body
    expect(succeeded.result.images).toHaveLength(1)
    expect(succeeded.result.images[0].url).toMatch(/^http/)

    for (const [id, state] of [
      [failed, 'failed'],
      [done, 'succeeded'],
    ]) {
      const refused = await admin(`/api/admin/jobs/${id}/cancel`, { method: 'POST' })
      expect(refused.status).toBe(409)
      expect(refused.body.error).toMatchObject({
        code: 'JOB_NOT_CANCELABLE',
        message: `The job has already ${state} and cannot be canceled.`,
      })
    }
    // The owner gets the same answer from its own route.
    const own = await api(`${server.url}/api/jobs/${done}/cancel`, { method: 'POST', key: frank.key })
    expect(own.body.error.code).toBe('JOB_NOT_CANCELABLE')
  })

  it('is for admin keys only: a user key gets 403, even for its own job; /api/jobs checks the owner', async () => {
    const gina = await userKey('gina')
    const harry = await userKey('harry')
    const job = (await gina.create('mine', 'slow=60000')).body.id as string
    try {
      for (const key of [gina.key, harry.key]) {
        const read = await api(`${server.url}/api/admin/jobs/${job}`, { key })
        expect(read.status).toBe(403)
        expect(read.body.error.code).toBe('FORBIDDEN')
        const cancel = await api(`${server.url}/api/admin/jobs/${job}/cancel`, { method: 'POST', key })
        expect(cancel.status).toBe(403)
      }
      expect((await api(`${server.url}/api/admin/jobs/${job}`, { key: null })).status).toBe(401)
      // Another user key still cannot see or cancel it through the owner's routes.
      const other = await api(`${server.url}/api/jobs/${job}/cancel`, { method: 'POST', key: harry.key })
      expect(other.status).toBe(404)
      expect(other.body.error.code).toBe('JOB_NOT_FOUND')
      expect((await api(`${server.url}/api/jobs/${job}`, { key: gina.key })).body.state).not.toBe('canceled')
    } finally {
      await admin(`/api/admin/jobs/${job}/cancel`, { method: 'POST' })
    }
  })

  it('answers 404 JOB_NOT_FOUND for an unknown id, and 422 naming the field for a malformed one', async () => {
    for (const [method, path] of [
      ['GET', '/api/admin/jobs/job_nope'],
      ['POST', '/api/admin/jobs/job_nope/cancel'],
    ] as const) {
      const missing = await admin(path, { method })
      expect(missing.status, path).toBe(404)
      expect(missing.body.error.code).toBe('JOB_NOT_FOUND')
    }
    const long = await admin(`/api/admin/jobs/${'x'.repeat(65)}`)
    expect(long.status).toBe(422)
    expect(long.body.error).toMatchObject({ code: 'VALIDATION_FAILED', issues: [expect.objectContaining({})] })
    expect(JSON.stringify(long.body.error.issues[0].loc)).toContain('id')
  })

  it('lists the new routes in the OpenAPI document, under Admin', async () => {
    const { paths } = (await api(`${server.url}/openapi.json`, { key: null })).body
    expect(paths['/api/admin/jobs/{id}'].get.tags).toEqual(['Admin'])
    expect(paths['/api/admin/jobs/{id}/cancel'].post.tags).toEqual(['Admin'])
    expect(
      paths['/api/admin/jobs/{id}'].get.responses['200'].content['application/json'].schema.properties.key,
    ).toBeDefined()
  })
})
