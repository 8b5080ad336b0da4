import fs from 'node:fs'
import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { runCli, startServe } from '../helpers/child.js'
import { api, KEY_A, KEY_B, startTestServer, type TestServer, tempDir } from '../helpers/server.js'
import { type Answer, type Received, startReceiver } from '../helpers/webhook-receiver.js'

// Loopback receivers need private URLs allowed; the schedule is short so retries are quick.
const ENV = { FLUXHOST_ALLOW_PRIVATE_URLS: '1', FLUXHOST_WEBHOOK_RETRY_SCHEDULE: '0,20ms,20ms,20ms,20ms' }

let server: TestServer
const receivers: Awaited<ReturnType<typeof startReceiver>>[] = []
beforeAll(async () => {
  server = await startTestServer(ENV)
})
afterAll(() => server.close())
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

async function receiver(answer?: (n: number, received: Received) => Answer) {
  const r = await startReceiver(answer)
  receivers.push(r)
  return r
}

/** Resolves when the job's deliveries satisfy `done` (checked now, then after each attempt). */
async function deliveriesOf(
  jobId: string,
  done: (deliveries: any[]) => boolean,
  on: TestServer = server,
): Promise<any[]> {
  const read = async () => (await api(`${on.url}/api/jobs/${jobId}/deliveries`)).body.data as any[]
  return new Promise((resolve, reject) => {
    let finished = false
    const check = () =>
      read().then((deliveries) => {
        if (finished || !done(deliveries)) return
        finished = true
        on.fluxhost.webhookEvents.off('attempt', check)
        resolve(deliveries)
      }, reject)
    on.fluxhost.webhookEvents.on('attempt', check)
    void check()
  })
}
const settled = (deliveries: any[]) =>
  deliveries.length > 0 && deliveries.every((d) => ['delivered', 'failed', 'stopped'].includes(d.state))

/**
 * `value` with the signatures of its file URLs cut off: a URL's expiry is rounded to the next
 * minute, so a body rendered at 11:59:59.9 and one read at 12:00:00.1 sign differently.
 */
const unsigned = (value: unknown): unknown => JSON.parse(JSON.stringify(value).replace(/\?exp=\d+&sig=[^"&]+/g, ''))

const secretOf = async (key: string) => (await api(`${server.url}/api/webhook-secret`, { key })).body.secret as string

describe('webhooks', () => {
  it('BFL: a signed POST with the get_result body and X-Webhook-Secret, verified by standardwebhooks', async () => {
    const hook = await receiver()
    const created = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: {
        prompt: 'a red apple',
        width: 256,
        height: 256,
        seed: 5,
        webhook_url: hook.url,
        webhook_secret: 'bfl-shared-secret',
      },
    })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({ status: 'Pending', webhook_url: hook.url })
    const [received] = await hook.received(1)

    const secret = await secretOf(KEY_A)
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    const payload = new Webhook(secret).verify(received!.body, received!.headers as Record<string, string>) as any
    const polled = await api(`${server.url}/v1/get_result?id=${created.body.id}`)
    expect(unsigned(payload)).toEqual(unsigned(polled.body))
    expect(payload).toMatchObject({
      id: created.body.id,
      status: 'Ready',
      result: { sample: expect.stringContaining('/files/'), seed: 5 },
    })
    expect(received!.headers['x-webhook-secret']).toBe('bfl-shared-secret')
    expect(received!.headers['content-type']).toBe('application/json')
    expect(received!.headers['user-agent']).toMatch(/^fluxhost\//)
    // A tampered body does not verify.
    expect(() =>
      new Webhook(secret).verify(received!.body.replace('Ready', 'Error'), received!.headers as Record<string, string>),
    ).toThrow()
    // The image the webhook points at downloads.
    expect((await fetch(payload.result.sample)).status).toBe(200)

    const [delivery] = await deliveriesOf(created.body.id, settled)
    expect(delivery).toMatchObject({
      id: received!.headers['webhook-id'],
      state: 'delivered',
      url: hook.url,
      lastStatus: 200,
    })
    expect(delivery.attempts).toEqual([
      expect.objectContaining({ attempt: 1, status: 200, outcome: 'delivered', error: null }),
    ])
  })

  it('each key signs with its own secret; rotating it changes the signature', async () => {
    const a = await secretOf(KEY_A)
    const b = await secretOf(KEY_B)
    expect(a).not.toBe(b)
    const rotated = await server.fluxhost.services.keys.webhookSecret(await keyIdOf(KEY_B), { rotate: true })
    expect(rotated).not.toBe(b)
    expect(await secretOf(KEY_B)).toBe(rotated)
  })

  it('SeaArt and Apiframe: the body is what their read route returns', async () => {
    const hook = await receiver()
    const seaart = await api(`${server.url}/v1/queue/flux_pro_11`, {
      body: { prompt: 'a teal boat', width: 256, height: 256, webhook_url: hook.url },
    })
    expect(seaart.status).toBe(200)
    const apiframe = await api(`${server.url}/v2/images/generate`, {
      body: {
        prompt: 'a teal boat',
        model: 'flux-1.1-pro',
        webhook_url: hook.url,
        fluxParams: { aspect_ratio: 'custom', width: 256, height: 256 },
      },
    })
    expect(apiframe.status).toBe(202)
    const received = await hook.received(2)
    const secret = await secretOf(KEY_A)
    const bodies = received.map((r) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as any)
    const seaartBody = bodies.find((b) => b.request_id === seaart.body.request_id)
    const apiframeBody = bodies.find((b) => b.jobId === apiframe.body.jobId)
    expect(unsigned(seaartBody)).toEqual(unsigned((await api(seaart.body.response_url)).body))
    expect(seaartBody).toMatchObject({
      status: 'completed',
      output: [{ content: [{ type: 'image' }] }],
      usage: { cost: '0.04' },
    })
    // Apiframe's body (no published schema): the job's id, the event, and the job as its list shows it.
    const polled = (await api(`${server.url}/v2/jobs/${apiframe.body.jobId}`)).body
    expect(apiframeBody).toMatchObject({
      jobId: polled.id,
      type: 'completed',
      status: 'COMPLETED',
      result: { images: [{ width: 256, height: 256 }] },
    })
  })

  it('a failed or canceled job is delivered too', async () => {
    const hook = await receiver()
    const failed = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'x', width: 256, height: 256, webhook_url: hook.url },
      headers: { 'x-fluxhost-simulate': 'content_moderated' },
    })
    const slow = await api(`${server.url}/api/jobs`, {
      body: { prompt: 'slow', width: 256, height: 256, webhookUrl: hook.url },
      headers: { 'x-fluxhost-simulate': 'slow=30000' },
    })
    await server.waitUntilRunning(slow.body.id)
    await api(`${server.url}/api/jobs/${slow.body.id}/cancel`, { method: 'POST' })
    const received = await hook.received(2)
    const bodies = received.map((r) => JSON.parse(r.body))
    expect(bodies).toContainEqual(expect.objectContaining({ id: failed.body.id, status: 'Content Moderated' }))
    expect(bodies).toContainEqual(expect.objectContaining({ id: slow.body.id, object: 'job', state: 'canceled' }))
  })

  it('retries 503, 500 and 429 on the schedule, then succeeds; the webhook-id stays the same', async () => {
    const answers: Answer[] = [
      { status: 503 },
      { status: 500 },
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 204 },
    ]
    const hook = await receiver((n) => answers[n] ?? { status: 200 })
    const created = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'retry me', width: 256, height: 256, webhook_url: hook.url },
    })
    const received = await hook.received(4)
    expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(1)
    const [delivery] = await deliveriesOf(created.body.id, settled)
    expect(delivery.state).toBe('delivered')
    expect(delivery.attempts.map((a: any) => [a.status, a.outcome])).toEqual([
      [503, 'retry'],
      [500, 'retry'],
      [429, 'retry'],
      [204, 'delivered'],
    ])
    for (const attempt of delivery.attempts) expect(attempt.latencyMs).toBeGreaterThanOrEqual(0)
  })

  it('honours a Retry-After that asks for longer than the schedule', async () => {
    const hook = await receiver((n) => (n === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }))
    const created = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'later please', width: 256, height: 256, webhook_url: hook.url },
    })
    const [first, second] = await hook.received(2)
    // The schedule's next delay is 20 ms; the receiver asked for 1 s.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950)
    const [delivery] = await deliveriesOf(created.body.id, settled)
    expect(delivery.attempts.map((a: any) => a.outcome)).toEqual(['retry', 'delivered'])
  })

  it("the schedule's first delay counts from the job's end", async () => {
    const delayed = await startTestServer({ ...ENV, FLUXHOST_WEBHOOK_RETRY_SCHEDULE: '600ms' })
    try {
      const hook = await receiver()
      await api(`${delayed.url}/api/jobs`, {
        body: { prompt: 'after a pause', width: 256, height: 256, webhookUrl: hook.url },
      })
      const [received] = await hook.received(1)
      expect(received!.at - Date.parse(JSON.parse(received!.body).finishedAt)).toBeGreaterThanOrEqual(550)
    } finally {
      await delayed.close()
    }
  })

  it('gives up after the last attempt of the schedule', async () => {
    const hook = await receiver(() => ({ status: 502 }))
    const created = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'never', width: 256, height: 256, webhook_url: hook.url },
    })
    const [delivery] = await deliveriesOf(created.body.id, settled)
    expect(delivery.state).toBe('failed')
    expect(delivery.attempts).toHaveLength(5)
    expect(delivery.lastError).toMatch(/HTTP 502; gave up after 5 attempts/)
  })

  it('410 stops at once; 404 and a redirect fail without retry (redirects are not followed)', async () => {
    for (const [answer, state, error] of [
      [{ status: 410 }, 'stopped', /410/],
      [{ status: 404 }, 'failed', /HTTP 404/],
      [{ status: 301, headers: { location: 'http://127.0.0.1:1/elsewhere' } }, 'failed', /redirects are not followed/],
    ] as const) {
      const hook = await receiver(() => answer)
      const created = await api(`${server.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'once', width: 256, height: 256, webhook_url: hook.url },
      })
      const [delivery] = await deliveriesOf(created.body.id, settled)
      expect(delivery.state).toBe(state)
      expect(delivery.attempts).toHaveLength(1)
      expect(delivery.lastError).toMatch(error)
      expect(hook.requests).toHaveLength(1)
    }
  })

  it('redeliver sends the same message again; not while it is under way; not for another key', async () => {
    const hook = await receiver()
    const created = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'again', width: 256, height: 256, webhook_url: hook.url },
    })
    const [first] = await deliveriesOf(created.body.id, settled)
    expect(
      (await api(`${server.url}/api/deliveries/${first.id}/redeliver`, { method: 'POST', key: KEY_B })).status,
    ).toBe(404)
    const again = await api(`${server.url}/api/deliveries/${first.id}/redeliver`, { method: 'POST' })
    expect(again.status).toBe(202)
    const received = await hook.received(2)
    expect(received[1]!.headers['webhook-id']).toBe(received[0]!.headers['webhook-id'])
    const [delivery] = await deliveriesOf(created.body.id, (d) => d[0]?.attempts.length === 2)
    expect(delivery.state).toBe('delivered')
    expect((await api(`${server.url}/api/deliveries/nope/redeliver`, { method: 'POST' })).body.error.code).toBe(
      'DELIVERY_NOT_FOUND',
    )
    expect((await api(`${server.url}/api/jobs/${created.body.id}/deliveries`, { key: KEY_B })).status).toBe(404)
  })

  it('a delivery still retrying when its job is deleted is given up, not sent', async () => {
    // The first attempt asks for 5 s (Retry-After); the job is deleted meanwhile.
    const hook = await receiver(() => ({ status: 503, headers: { 'retry-after': '5' } }))
    const created = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'deleted later', width: 256, height: 256, webhook_url: hook.url },
    })
    await deliveriesOf(created.body.id, (d) => d[0]?.attempts.length === 1)
    expect((await api(`${server.url}/api/jobs/${created.body.id}`, { method: 'DELETE' })).status).toBe(204)
    const deliveryOf = async () =>
      ((await api(`${server.url}/api/admin/deliveries?limit=200`)).body.data as any[]).find(
        (d) => d.jobId === created.body.id,
      )
    const done = await new Promise<any>((resolve, reject) => {
      const check = () =>
        deliveryOf().then((d) => {
          if (!settled([d])) return
          server.fluxhost.webhookEvents.off('attempt', check)
          resolve(d)
        }, reject)
      server.fluxhost.webhookEvents.on('attempt', check)
      void check()
    })
    expect(done).toMatchObject({ state: 'failed', lastError: expect.stringMatching(/the job was deleted/) })
    expect(hook.requests).toHaveLength(1)
  })

  it('a receiver that does not answer in time is retried', async () => {
    const timeoutServer = await startTestServer({ ...ENV, FLUXHOST_WEBHOOK_TIMEOUT_S: '1' })
    try {
      const hook = await receiver((n) => (n === 0 ? 'hang' : { status: 200 }))
      const created = await api(`${timeoutServer.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'slow receiver', width: 256, height: 256, webhook_url: hook.url },
      })
      await hook.received(2)
      const deliveries = await deliveriesOf(created.body.id, (d) => d[0]?.state === 'delivered', timeoutServer)
      expect(deliveries[0].attempts[0]).toMatchObject({
        status: null,
        outcome: 'retry',
        error: expect.stringMatching(/no answer within 1 s/),
      })
      expect(deliveries[0].attempts[1]).toMatchObject({ status: 200, outcome: 'delivered' })
    } finally {
      await timeoutServer.close()
    }
  })
})

// Several CLI children, each seconds to start from source on two busy cores.
describe('webhooks from the CLI', { timeout: 180_000 }, () => {
  it('keys webhook-secret, webhooks list and webhooks redeliver work on the data dir a server uses', async () => {
    const local = server.recordsEnv
    const id = await keyIdOf(KEY_A)
    const shown = await runCli(['keys', 'webhook-secret', id], local)
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout.trim()).toBe(await secretOf(KEY_A))

    const hook = await receiver()
    const created = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'cli', width: 256, height: 256, webhook_url: hook.url },
    })
    const [delivery] = await deliveriesOf(created.body.id, settled)
    const listed = await runCli(['webhooks', 'list', created.body.id, '--json'], local)
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { id: delivery.id, state: 'delivered', attempts: [{ attempt: 1, status: 200 }] },
    ])
    const table = await runCli(['webhooks', 'list', created.body.id], local)
    expect(table.stdout).toMatch(new RegExp(`${delivery.id}\\s+delivered\\s+1\\s+\\S+\\s+200`))

    // The server, another process, picks the redelivery up.
    const again = await runCli(['webhooks', 'redeliver', delivery.id], local)
    expect(again.stdout.trim()).toBe(`${delivery.id} pending`)
    await hook.received(2)
    expect((await runCli(['webhooks', 'redeliver', 'msg_nope'], local)).code).toBe(1)

    const rotated = await runCli(['keys', 'webhook-secret', id, '--rotate'], local)
    expect(rotated.stdout.trim()).not.toBe(shown.stdout.trim())
    expect(await secretOf(KEY_A)).toBe(rotated.stdout.trim())
  })
})

describe('webhook URLs that point inside the network are refused at create', () => {
  let strict: TestServer
  beforeAll(async () => {
    strict = await startTestServer()
  })
  afterAll(() => strict.close())

  it.each([
    'http://127.0.0.1:9/hook',
    'http://10.1.2.3/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]:9/hook',
    'http://localhost:9/hook',
    'ftp://example.com/hook',
  ])('%s', async (url) => {
    const bfl = await api(`${strict.url}/v1/flux-pro-1.1`, { body: { prompt: 'x', webhook_url: url } })
    expect(bfl.status).toBe(422)
    expect(bfl.body.detail[0]).toMatchObject({
      loc: ['body', 'webhook_url'],
      type: expect.stringMatching(/url_refused|url_parsing|url_scheme/),
    })
    const apiframe = await api(`${strict.url}/v2/images/generate`, {
      body: { prompt: 'x', model: 'flux-1.1-pro', webhook_url: url },
    })
    expect(apiframe.status).toBe(400)
    expect(Object.keys(apiframe.body.details)).toEqual(['webhook_url'])
    const native = await api(`${strict.url}/api/jobs`, { body: { prompt: 'x', webhookUrl: url } })
    expect(native.status).toBe(422)
    expect(native.body.error.issues[0].loc).toEqual(['body', 'webhookUrl'])
    // Nothing was made.
    expect((await api(`${strict.url}/api/jobs`)).body.data).toEqual([])
  })
})

describe('a delivery survives a restart', () => {
  it('fails once, the server stops, the next server delivers it', async () => {
    const dataDir = tempDir('fluxhost-webhook-restart-')
    const hook = await startReceiver((n) => (n === 0 ? { status: 503 } : { status: 200 }))
    // The retry is due 2 s after the first attempt: long enough for the restart.
    const env = {
      FLUXHOST_DATA_DIR: dataDir,
      FLUXHOST_API_KEYS: KEY_A,
      FLUXHOST_ALLOW_PRIVATE_URLS: '1',
      FLUXHOST_WEBHOOK_RETRY_SCHEDULE: '0,2s',
      FLUXHOST_LOG_LEVEL: 'warn',
    }
    try {
      const first = await startServe(env)
      const created = await api(`${first.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'durable', width: 256, height: 256, webhook_url: hook.url },
      })
      await hook.received(1)
      first.child.process.kill('SIGTERM')
      expect((await first.child.exited).code).toBe(0)

      const second = await startServe(env)
      const received = await hook.received(2)
      expect(received[1]!.headers['webhook-id']).toBe(received[0]!.headers['webhook-id'])
      expect(received[1]!.at - received[0]!.at).toBeGreaterThanOrEqual(1900)
      second.child.process.kill('SIGTERM')
      await second.child.exited
      const shown = await startServe(env)
      const deliveries = (await api(`${shown.url}/api/jobs/${created.body.id}/deliveries`)).body.data
      shown.child.process.kill('SIGTERM')
      await shown.child.exited
      expect(deliveries[0].attempts.map((a: any) => a.status)).toEqual([503, 200])
      expect(deliveries[0].state).toBe('delivered')
    } finally {
      await hook.close()
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

async function keyIdOf(key: string): Promise<string> {
  const apiKey = await server.fluxhost.services.keys.authenticate(key)
  return apiKey!.id
}
