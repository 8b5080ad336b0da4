import fs from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { type Child, startServe } from '../helpers/child.js'
import { followToEnd } from '../helpers/follow.js'
import { api, tempDir } from '../helpers/server.js'
import { createSchema, POSTGRES_URL } from '../helpers/services.js'

// A create killed right after its job is written (the failpoint `job-created`: SIGKILL, no
// answer) must leave a key that replays that job: the job and its key's binding are one
// transaction. Counted from the client's side: the answer it finally got, the jobs its key
// can list, and what its key was charged.
const ROUTES = [
  { path: '/v1/flux-pro-1.1', body: { prompt: 'crash bfl', width: 256, height: 256 }, id: (b: any) => b.id },
  {
    path: '/v1/queue/flux_pro_11',
    body: { prompt: 'crash seaart', width: 256, height: 256 },
    id: (b: any) => b.request_id,
  },
  { path: '/v2/images/generate', body: { prompt: 'crash apiframe', model: 'flux-1.1-pro' }, id: (b: any) => b.jobId },
  { path: '/api/jobs', body: { prompt: 'crash native', width: 256, height: 256 }, id: (b: any) => b.id },
] as const
const KEYS = ROUTES.map((_, i) => `crash-key-${i}`)
const headersFor = (key: string) => ({
  authorization: `Bearer ${key}`,
  'x-api-key': key,
  'idempotency-key': `"crash-${key}"`,
})

const children: Child[] = []
const cleanups: (() => Promise<void> | void)[] = []
afterAll(async () => {
  for (const child of children.splice(0)) child.process.kill('SIGKILL')
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

describe.each(['sqlite', 'postgres'] as const)('a create killed between its job and its answer (%s)', (kind) => {
  it('replays the one job it made on every async create route: one job, one charge', async () => {
    const dataDir = tempDir()
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }))
    const env: Record<string, string> = { FLUXHOST_DATA_DIR: dataDir, FLUXHOST_API_KEYS: KEYS.join(',') }
    if (kind === 'postgres') {
      const { schema, drop } = await createSchema()
      cleanups.push(drop)
      Object.assign(env, { DATABASE_URL: POSTGRES_URL, FLUXHOST_DATABASE_SCHEMA: schema })
    }
    // Server i dies creating route i's job, and first answers the resend of route i-1.
    let previous: number | undefined
    const answered: string[] = []
    for (let i = 0; i <= ROUTES.length; i++) {
      const last = i === ROUTES.length
      // Only the last one runs workers: the others die too often for a job to finish there.
      const server = await startServe({
        ...env,
        ...(last ? {} : { FLUXHOST_FAILPOINT: 'job-created', FLUXHOST_WORKER: 'false' }),
      })
      children.push(server.child)
      if (previous !== undefined) {
        const route = ROUTES[previous]!
        const resend = await api(`${server.url}${route.path}`, {
          key: null,
          body: route.body,
          headers: headersFor(KEYS[previous]!),
        })
        expect(resend.status, resend.text).toBeLessThan(300)
        expect(resend.headers.get('idempotent-replayed')).toBe('true')
        answered.push(route.id(resend.body))
      }
      if (last) {
        for (const [j, id] of answered.entries()) {
          const key = KEYS[j]!
          const job = await followToEnd(server.url, key, id)
          expect(job.state, JSON.stringify(job.error)).toBe('succeeded')
          const listed = (await api(`${server.url}/api/jobs?limit=100`, { key })).body.data as any[]
          expect(listed.map((job) => job.id)).toEqual([id])
          const usage = (await api(`${server.url}/api/usage`, { key })).body
          expect(usage.total).toMatchObject({ jobs: 1, images: 1 })
        }
        server.child.process.kill('SIGTERM')
        await server.child.exited
        break
      }
      const route = ROUTES[i]!
      // The first send never gets an answer: its server dies once the job is written.
      await expect(
        api(`${server.url}${route.path}`, { key: null, body: route.body, headers: headersFor(KEYS[i]!) }),
      ).rejects.toThrow()
      expect((await server.child.exited).signal).toBe('SIGKILL')
      previous = i
    }
    expect(answered).toHaveLength(ROUTES.length)
  }, 120_000)
})
