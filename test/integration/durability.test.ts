import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readSse } from '../../src/cli/sse.js'
import { openSqliteStore } from '../../src/store/open-store.js'
import { startBflEmulator } from '../emulators/bfl.js'
import { type Child, startServe } from '../helpers/child.js'
import { api, fetchStatus, tempDir } from '../helpers/server.js'
import { openRawDb } from '../helpers/store.js'

const KEY = 'durability-key'
const children: Child[] = []
const dirs: string[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.process.kill('SIGKILL')
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

async function serve(dataDir: string, env: Record<string, string> = {}) {
  const started = await startServe({ FLUXHOST_DATA_DIR: dataDir, FLUXHOST_API_KEYS: KEY, ...env })
  children.push(started.child)
  return started
}

/** Reads the job's event stream until `stop` says so; returns the events seen. */
async function follow(url: string, id: string, stop: (event: string, data: any) => boolean) {
  const response = await fetch(`${url}/api/jobs/${id}/events`, { headers: { 'x-key': KEY } })
  const seen: { event: string; data: any }[] = []
  for await (const event of readSse(response.body!)) {
    const data = JSON.parse(event.data)
    seen.push({ event: event.event, data })
    if (stop(event.event, data)) break
  }
  return seen
}

async function readRecords(dataDir: string, id: string) {
  const { store } = await openSqliteStore(path.join(dataDir, 'fluxhost.db'))
  const raw = openRawDb({ kind: 'sqlite', file: path.join(dataDir, 'fluxhost.db') })
  try {
    const job = await store.jobs.get(id)
    const charges = await raw.selectFrom('charges').selectAll().where('job_id', '=', id).execute()
    return { job, charges }
  } finally {
    await raw.destroy()
    await store.close()
  }
}

describe('durability', () => {
  it('a job running when the server is SIGKILLed finishes exactly once after a restart', async () => {
    const dataDir = tempDir()
    dirs.push(dataDir)
    const first = await serve(dataDir)
    const created = await api(`${first.url}/v1/flux-pro-1.1`, {
      key: KEY,
      body: { prompt: 'survive', seed: 3, width: 256, height: 256 },
      headers: { 'x-fluxhost-simulate': 'slow=3000' },
    })
    const id = created.body.id as string
    // Kill it mid-generation: after the first progress event, before the end.
    await follow(first.url, id, (event) => event === 'progress')
    first.child.process.kill('SIGKILL')
    await first.child.exited

    const orphaned = await readRecords(dataDir, id)
    expect(orphaned.job).toMatchObject({ state: 'running', attempts: 1 })
    expect(orphaned.charges).toHaveLength(0)

    // Same host, dead pid: the new process re-queues the job at once instead of waiting out the 30 s lease.
    const second = await serve(dataDir)
    const events = await follow(
      second.url,
      id,
      (event, data) => event === 'state' && ['succeeded', 'failed', 'canceled'].includes(data.state),
    )
    const final = events.at(-1)!.data
    expect(final).toMatchObject({ state: 'succeeded', attempts: 2 })
    expect(await fetchStatus(final.result.images[0].url)).toBe(200)
    await second.child.process.kill('SIGTERM')
    expect((await second.child.exited).code).toBe(0)

    const after = await readRecords(dataDir, id)
    expect(after.charges).toHaveLength(1)
    expect(after.job?.result?.images.map((i) => i.key)).toEqual([`jobs/${id}/a2/0.jpeg`])
    // The crashed attempt's files are gone; only the finished attempt's remain.
    expect(fs.readdirSync(path.join(dataDir, 'blobs/jobs', id))).toEqual(['a2'])
  })

  it('SIGTERM lets a running job finish within the grace period and exits 0', async () => {
    const dataDir = tempDir()
    dirs.push(dataDir)
    const { child, url } = await serve(dataDir, { FLUXHOST_SHUTDOWN_GRACE_MS: '20000' })
    const created = await api(`${url}/api/jobs`, {
      key: KEY,
      body: { prompt: 'finish me', width: 256, height: 256 },
      headers: { 'x-fluxhost-simulate': 'slow=1500' },
    })
    await follow(url, created.body.id, (event) => event === 'progress')
    child.process.kill('SIGTERM')
    expect(await child.exited).toEqual({ code: 0, signal: null })
    expect(child.stdout()).toContain('server:stopped')
    expect((await readRecords(dataDir, created.body.id)).job?.state).toBe('succeeded')
  })

  it('SIGTERM re-queues a job that outlasts the grace period; the next start completes it', async () => {
    const dataDir = tempDir()
    dirs.push(dataDir)
    const first = await serve(dataDir, { FLUXHOST_SHUTDOWN_GRACE_MS: '200' })
    const created = await api(`${first.url}/api/jobs`, {
      key: KEY,
      body: { prompt: 'too slow', width: 256, height: 256 },
      headers: { 'x-fluxhost-simulate': 'slow=6000' },
    })
    const id = created.body.id as string
    // 6 s: the SIGTERM and the 200 ms grace must come well before the job could finish.
    await follow(first.url, id, (event) => event === 'progress')
    first.child.process.kill('SIGTERM')
    expect((await first.child.exited).code).toBe(0)
    expect((await readRecords(dataDir, id)).job).toMatchObject({ state: 'queued', attempts: 0 })

    const second = await serve(dataDir)
    const events = await follow(second.url, id, (event, data) => event === 'state' && data.state === 'succeeded')
    expect(events.at(-1)!.data.attempts).toBe(1)
  })

  it('a worker paused past its lease runs its job once: the engine is asked once, the job ends once', async () => {
    // Issue 13: SIGSTOP outlasting the lease (a long GC pause) made the process's own recovery
    // re-queue the job it was still running, and its claim loop ran the engine a second time.
    const LEASE_MS = 3000
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    // The upstream task stays pending (its progress rising with each poll) until the test says.
    const upstream = { pendingPolls: 1_000_000 }
    const emulator = await startBflEmulator({ apiKey: 'bfl-key', script: () => upstream })
    try {
      const dataDir = tempDir()
      dirs.push(dataDir)
      const { child, url } = await serve(dataDir, {
        FLUXHOST_BFL_API_KEY: 'bfl-key',
        FLUXHOST_BFL_URL: emulator.url,
        FLUXHOST_BFL_POLL_MS: '50',
        FLUXHOST_LEASE_MS: String(LEASE_MS),
      })
      const created = await api(`${url}/v1/flux-pro-1.1`, {
        key: KEY,
        body: { prompt: 'paused', seed: 5, width: 256, height: 256 },
      })
      const id = created.body.id as string
      await follow(url, id, (event) => event === 'progress')
      // The pauses are what is under test (no event can end them), each longer than the lease.
      // After a resume both the heartbeat (every lease/3) and the recovery pass (every lease/2)
      // start again from the resume; pausing again 5/12 of a lease later, between the first
      // heartbeat and the first recovery pass, makes the recovery due first at the next resume.
      const pause = async () => {
        child.process.kill('SIGSTOP')
        await sleep(LEASE_MS * 1.2)
        child.process.kill('SIGCONT')
      }
      await pause()
      await sleep((LEASE_MS * 5) / 12)
      await pause()
      await follow(url, id, (event) => event === 'progress')
      upstream.pendingPolls = 0
      const events = await follow(url, id, (event, data) => event === 'state' && data.state === 'succeeded')
      expect(events.at(-1)!.data).toMatchObject({ state: 'succeeded', attempts: 1 })
      child.process.kill('SIGTERM')
      expect((await child.exited).code).toBe(0)
      // Counted upstream, after the process is gone: one submit, so one generation paid for.
      expect(emulator.submits).toHaveLength(1)
      expect(child.stdout()).not.toContain('queue:recovered')
      const after = await readRecords(dataDir, id)
      expect(after.job).toMatchObject({ state: 'succeeded', attempts: 1 })
      expect(after.charges).toHaveLength(1)
      expect(fs.readdirSync(path.join(dataDir, 'blobs/jobs', id))).toEqual(['a1'])
    } finally {
      await emulator.close()
    }
  })
})
