import http from 'node:http'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBflEngine } from '../../src/engines/bfl/bfl-engine.js'
import type { EngineTask } from '../../src/engines/engine.js'
import { createPushKeys } from '../../src/engines/push.js'
import { createLocalJobEvents } from '../../src/queue/job-events.js'
import { createJobPush } from '../../src/worker/push.js'
import { type BflScript, startBflEmulator } from '../emulators/bfl.js'
import { api, startTestServer, type TestServer } from '../helpers/server.js'

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })

let emulator: Awaited<ReturnType<typeof startBflEmulator>>
let server: TestServer
let publicUrl: string
const script = (body: any): BflScript => {
  const prompt = String(body.prompt)
  if (prompt.startsWith('at once')) return { readyAfterMs: 0, skipWebhook: true }
  if (prompt.startsWith('no callback')) return { readyAfterMs: 200, skipWebhook: true }
  return { readyAfterMs: 200 }
}

beforeAll(async () => {
  emulator = await startBflEmulator({ apiKey: 'bfl-key', script })
  const port = await freePort()
  publicUrl = `http://127.0.0.1:${port}`
  server = await startTestServer({
    FLUXHOST_PORT: String(port),
    FLUXHOST_PUBLIC_URL: publicUrl,
    FLUXHOST_PROVIDER_WEBHOOKS: '1',
    FLUXHOST_BFL_API_KEY: 'bfl-key',
    FLUXHOST_BFL_URL: emulator.url,
  })
})
afterAll(async () => {
  await server.close()
  await emulator.close()
})

describe('provider callbacks (FLUXHOST_PROVIDER_WEBHOOKS)', () => {
  it('gives BFL a per-task URL and secret; its verified call wakes the job, which reads the result', async () => {
    const created = await api(`${server.url}/v1/flux-pro-1.1`, { body: { prompt: 'a bell tower', width: 256 } })
    const job = await server.waitForJob(created.body.id)
    expect(job).toMatchObject({ state: 'succeeded', engine: 'bfl' })
    const sent = emulator.submits.find((s) => s.body.prompt === 'a bell tower')!
    expect(sent.body.webhook_url).toMatch(new RegExp(`^${publicUrl}/api/engine-hooks/bfl/${created.body.id}/0/`))
    expect(sent.body.webhook_secret).toMatch(/^[\w-]{40,}$/)
    expect(emulator.webhooks.map((w) => w.status)).toContain(204)
  })

  it('refuses calls it did not make the URL for, or without the secret, and changes nothing', async () => {
    const created = await api(`${server.url}/v1/flux-pro-1.1`, { body: { prompt: 'a pier at night', width: 256 } })
    await server.waitForJob(created.body.id)
    const sent = emulator.submits.find((s) => s.body.prompt === 'a pier at night')!
    const url = String(sent.body.webhook_url)
    const post = (target: string, headers: Record<string, string>) =>
      fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' })
    expect((await post(url.replace(/\/[\w-]+$/, '/forged-token'), {})).status).toBe(404)
    expect((await post(url.replace('/bfl/', '/fal/'), {})).status).toBe(404)
    expect((await post(url, { 'x-webhook-secret': 'guessed' })).status).toBe(401)
    expect((await post(url, { 'x-webhook-secret': sent.body.webhook_secret })).status).toBe(204)
  })

  it('checks the path token before it reads a body: a forged URL is refused even for a body too large', async () => {
    const created = await api(`${server.url}/v1/flux-pro-1.1`, { body: { prompt: 'a quay, big bodies', width: 256 } })
    await server.waitForJob(created.body.id)
    const url = new URL(String(emulator.submits.find((s) => s.body.prompt === 'a quay, big bodies')!.body.webhook_url))
    // A body announced as 40 MB and never sent: only a route that reads no body can answer.
    const announce = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const request = http.request({ host: url.hostname, port: url.port, path, method: 'POST' }, (response) => {
          response.resume()
          resolve(response.statusCode!)
          request.destroy()
        })
        request.setHeader('content-type', 'application/json')
        request.setHeader('content-length', String(40 * 1024 * 1024))
        request.on('error', reject)
        request.flushHeaders()
      })
    expect(await announce(url.pathname.replace(/\/[\w-]+$/, '/forged-token'))).toBe(404)
    expect(await announce(url.pathname)).toBe(413) // the real URL gets as far as the body's limit
  })

  it('finds the result by polling when the callback never comes', async () => {
    const created = await api(`${server.url}/v1/flux-pro-1.1`, { body: { prompt: 'no callback, a dune', width: 256 } })
    expect(await server.waitForJob(created.body.id)).toMatchObject({ state: 'succeeded', engine: 'bfl' })
  })
})

describe('the BFL engine with a callback', () => {
  it('reads the result when woken, not on the safety-net schedule', async () => {
    const keys = createPushKeys(Buffer.alloc(32, 7), 'http://127.0.0.1:9')
    const events = createLocalJobEvents()
    const push = createJobPush(keys, events, 'job-push')
    // The safety net would first poll after an hour: the task ends only if the call wakes it.
    const engine = createBflEngine({ apiKey: 'bfl-key', baseUrl: emulator.url, maxActive: 1, pushPollMs: 3_600_000 })
    const task: EngineTask = {
      jobId: 'job-push',
      model: 'flux-pro-1.1',
      prompt: 'at once, and no callback from the emulator: the test calls',
      width: 256,
      height: 256,
      seed: 1,
      numImages: 1,
      promptUpsampling: false,
      raw: false,
      safetyTolerance: 2,
      output: { format: 'png', quality: 90 },
    }
    const running = engine.generate(task, { signal: new AbortController().signal, progress: () => undefined, push })
    await expect.poll(() => emulator.submits.some((s) => s.body.prompt === task.prompt)).toBe(true)
    const sent = emulator.submits.find((s) => s.body.prompt === task.prompt)!
    expect(sent.body.webhook_url).toBe(keys.url('bfl', 'job-push', 0))
    // What the API route does with a verified call.
    expect(
      await engine.verifyPush!({
        headers: { 'x-webhook-secret': sent.body.webhook_secret },
        body: Buffer.from('{}'),
        secret: keys.secret('bfl', 'job-push', 0),
      }),
    ).toBe(true)
    events.publish({ type: 'upstream', jobId: 'job-push', engine: 'bfl', task: 0 })
    expect((await running).images).toHaveLength(1)
    push.close()
  })
})
