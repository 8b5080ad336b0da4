import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/child.js'
import { api, fetchStatus, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'
import { openRawDb } from '../helpers/store.js'

const DAY = 86_400_000

let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ FLUXHOST_RETENTION: '1d' })
})
afterAll(async () => {
  await server.close()
})

const native = (prompt: string, body: Record<string, unknown> = {}) =>
  api(`${server.url}/api/jobs`, { body: { prompt, width: 256, height: 256, ...body } })
const bflResult = async (id: string) => (await api(`${server.url}/v1/get_result?id=${id}`)).body
const apiframeJob = async (id: string) =>
  (await api(`${server.url}/v2/jobs/${id}`, { key: null, headers: { 'x-api-key': KEY_A } })).body
const nativeJob = async (id: string) => (await api(`${server.url}/api/jobs/${id}`)).body

/** The request and result columns as stored, behind fluxhost's back. */
async function rawRow(id: string) {
  const raw = openRawDb(server.recordsAt)
  try {
    return await raw.selectFrom('jobs').select(['request', 'result']).where('id', '=', id).executeTakeFirstOrThrow()
  } finally {
    await raw.destroy()
  }
}

describe('retention (FLUXHOST_RETENTION)', () => {
  it('prunes jobs finished before the period: files gone, each dialect says expired, usage unchanged', async () => {
    const bfl = (await api(`${server.url}/v1/flux-pro-1.1`, { body: { prompt: 'old fox', width: 256, height: 256 } }))
      .body.id as string
    const apiframe = (
      await api(`${server.url}/v2/images/generate`, {
        body: { prompt: 'old owl', model: 'flux-1.1-pro', fluxParams: { width: 256, height: 256 } },
        key: null,
        headers: { 'x-api-key': KEY_A },
      })
    ).body.jobId as string
    const seaart = (
      await api(`${server.url}/v1/queue/flux_pro_11`, { body: { prompt: 'old cat', width: 256, height: 256 } })
    ).body.request_id as string
    const pair = (await native('old pair', { numImages: 2 })).body.id as string
    for (const id of [bfl, apiframe, seaart, pair]) await server.waitForJob(id)
    server.clock.advance(2 * DAY)
    const fresh = (await native('fresh fox')).body.id as string
    await server.waitForJob(fresh)
    const usage = (await api(`${server.url}/api/usage`)).body
    // (URLs signed now: those signed before the clock moved have expired.)
    const images = (await nativeJob(pair)).result.images as { url: string; thumbnailUrl: string }[]
    const files = [...images.flatMap((image) => [image.url, image.thumbnailUrl]), (await bflResult(bfl)).result.sample]
    for (const file of files) expect(await fetchStatus(file)).toBe(200)

    const dry = await server.fluxhost.services.retention.prune({ dryRun: true })
    expect(dry).toMatchObject({ dryRun: true, ran: true, jobs: 4, images: 5, failed: 0 })
    for (const file of files) expect(await fetchStatus(file)).toBe(200)
    expect((await bflResult(bfl)).result.sample).toEqual(expect.stringContaining('/files/'))

    expect(await server.fluxhost.services.retention.prune()).toMatchObject({ dryRun: false, jobs: 4, images: 5 })

    const result = await bflResult(bfl)
    expect(result).toMatchObject({ id: bfl, status: 'Ready', details: { expired: expect.stringMatching(/retention/) } })
    expect(result.result).not.toHaveProperty('sample')
    expect(result.result).toMatchObject({ seed: expect.any(Number) })
    expect(await apiframeJob(apiframe)).toMatchObject({ status: 'COMPLETED', expired: true, result: { images: [] } })
    const response = await api(`${server.url}/v1/queue/flux_pro_11/requests/${seaart}/response`)
    expect(response.body).toMatchObject({ status: 'completed', expired: true, output: [{ content: [] }] })
    expect(await nativeJob(pair)).toMatchObject({
      state: 'succeeded',
      prunedAt: expect.any(String),
      request: { prompt: '', numImages: 2 },
      result: { images: [] },
    })
    for (const file of files) expect(await fetchStatus(file)).toBe(404)
    for (const id of [bfl, apiframe, seaart, pair]) {
      const row = await rawRow(id)
      expect(row.request).not.toMatch(/old (fox|owl|cat|pair)/)
      expect(row.result).not.toMatch(/jobs\//)
    }

    // The newer job keeps everything; usage counts what it did before.
    const kept = await nativeJob(fresh)
    expect(kept).toMatchObject({ prunedAt: null, request: { prompt: 'fresh fox' } })
    expect(await fetchStatus(kept.result.images[0].url)).toBe(200)
    expect((await apiframeJob(fresh)).expired).toBe(false)
    expect((await api(`${server.url}/api/usage`)).body).toEqual(usage)
  })

  it('sweeps in the background on its schedule', async () => {
    const id = (await native('background')).body.id as string
    await server.waitForJob(id)
    server.clock.advance(2 * DAY)
    const sweeper = server.fluxhost.services.retention.schedule({ firstAfterMs: 0, everyMs: 60_000 })
    try {
      await expect.poll(async () => (await nativeJob(id)).prunedAt).toEqual(expect.any(String))
    } finally {
      await sweeper.stop()
    }
    expect((await bflResult(id)).details.expired).toEqual(expect.any(String))
  })

  it('`fluxhost prune --dry-run` reports and changes nothing; `fluxhost prune` prunes', async () => {
    const id = (await native('cli heron')).body.id as string
    await server.waitForJob(id)
    const file = (await nativeJob(id)).result.images[0].url as string
    // The CLI runs on the real clock: make this job three days old there.
    const raw = openRawDb(server.recordsAt)
    try {
      await raw
        .updateTable('jobs')
        .set({ finished_at: Date.now() - 3 * DAY })
        .where('id', '=', id)
        .execute()
    } finally {
      await raw.destroy()
    }
    const env = { ...server.recordsEnv, FLUXHOST_RETENTION: '1d' }

    const off = await runCli(['prune', '--dry-run'], server.recordsEnv)
    expect(off.code).toBe(2)
    expect(off.stderr).toMatch(/FLUXHOST_RETENTION/)

    const dry = await runCli(['prune', '--dry-run'], env)
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/dry run: nothing was deleted/)
    expect(dry.stdout).toMatch(/^jobs .*\s1$/m)
    expect(dry.stdout).toMatch(/^images\s+1 /m)
    expect((await rawRow(id)).request).toMatch(/cli heron/)
    expect(await fetchStatus(file)).toBe(200)

    const done = await runCli(['prune', '--json'], env)
    expect(done.code, done.stderr).toBe(0)
    expect(JSON.parse(done.stdout)).toMatchObject({ dryRun: false, ran: true, jobs: 1, images: 1 })
    expect((await rawRow(id)).request).not.toMatch(/cli heron/)
    expect(await fetchStatus(file)).toBe(404)
    // The server notices another process's writes (SQLite's data_version; PostgreSQL within a second).
    await expect.poll(async () => (await apiframeJob(id)).expired).toBe(true)
  })
})
