import fs from 'node:fs'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe } from '../helpers/child.js'
import { api, KEY_A, startTestServer, type TestServer, tempDir } from '../helpers/server.js'
import { createSchema, POSTGRES_URL, probePostgres } from '../helpers/services.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

const postgres = await probePostgres()
const DAY = 86_400_000

/** A new user key on `s`, with these limits (PATCH /api/admin/keys/:id/limits). */
async function limitedKey(s: { url: string }, limits: Record<string, unknown>, credits?: number) {
  const made = await api(`${s.url}/api/admin/keys`, { key: KEY_A, body: { name: 'limited' } })
  expect(made.status).toBe(201)
  const { key, apiKey } = made.body as { key: string; apiKey: { id: string } }
  const set = await api(`${s.url}/api/admin/keys/${apiKey.id}/limits`, { method: 'PATCH', key: KEY_A, body: limits })
  expect(set.status, set.text).toBe(200)
  if (credits !== undefined) {
    const topped = await api(`${s.url}/api/admin/keys/${apiKey.id}/credits`, { key: KEY_A, body: { set: credits } })
    expect(topped.status, topped.text).toBe(200)
  }
  return { key, id: apiKey.id }
}

const bfl = (s: { url: string }, key: string, headers: Record<string, string> = {}) =>
  api(`${s.url}/v1/flux-pro-1.1`, { key, body: { prompt: 'a limited lemon', width: 256, height: 256 }, headers })
const creditsOf = async (s: { url: string }, key: string) => (await api(`${s.url}/v1/credits`, { key })).body.credits

/** One create per API, each with a body valid for it. */
const CREATES = [
  { name: 'BFL', path: '/v1/flux-pro-1.1', body: { prompt: 'x', width: 256, height: 256 } },
  { name: 'SeaArt', path: '/v1/queue/flux_pro_11', body: { prompt: 'x', width: 256, height: 256 } },
  {
    name: 'Apiframe',
    path: '/v2/images/generate',
    body: { prompt: 'x', model: 'flux-1.1-pro', fluxParams: { aspect_ratio: 'custom', width: 256, height: 256 } },
  },
  { name: 'AIML', path: '/v1/images/generations', body: { model: 'flux-pro/v1.1', prompt: 'x' } },
  { name: 'native', path: '/api/jobs', body: { prompt: 'x', width: 256, height: 256 } },
] as const

/** The code of a refusal as each API shows it (BFL's `{"detail": "..."}` carries only the message). */
function refusalCode(name: string, body: any): string | undefined {
  if (name === 'BFL') return typeof body.detail === 'string' ? 'detail' : undefined
  // Apiframe's published envelope is `{"error": "<message>"}`; fluxhost adds the code beside it.
  if (name === 'Apiframe') return body.code
  return body.error?.code
}

describe('per-key limits over HTTP (no worker: jobs stay queued)', () => {
  let s: TestServer
  beforeAll(async () => {
    s = await startTestServer({}, { worker: false })
  })
  afterAll(() => s?.close())

  it('concurrency: a create past it is refused 429 with Retry-After in every API; a cancel makes room', async () => {
    const { key } = await limitedKey(s, { concurrency: 1 })
    const first = await bfl(s, key)
    expect(first.status).toBe(200)
    for (const route of CREATES) {
      const refused = await api(`${s.url}${route.path}`, { key, body: route.body })
      expect(refused.status, `${route.name}: ${refused.text}`).toBe(429)
      expect(refused.headers.get('retry-after'), route.name).toBe('1')
      const expected = route.name === 'BFL' ? 'detail' : 'CONCURRENCY_LIMITED'
      expect(refusalCode(route.name, refused.body), route.name).toBe(expected)
      expect(refused.text, route.name).toMatch(/1 jobs queued or running, its limit is 1/)
    }
    const me = await api(`${s.url}/api/me`, { key })
    expect(me.body.limits.concurrency).toEqual({ limit: 1, setting: 1, active: 1 })
    expect((await api(`${s.url}/api/jobs/${first.body.id}/cancel`, { key, body: {} })).status).toBe(200)
    expect((await bfl(s, key)).status).toBe(200)
  })

  it('rpm: RateLimit headers on every create; past the limit 429 until the next minute', async () => {
    const { key } = await limitedKey(s, { rpm: 2 })
    // Start at the beginning of a minute of the server's clock, so the window cannot turn mid-test.
    s.clock.advance(60_000 - (s.clock.now() % 60_000) + 10)
    const one = await bfl(s, key)
    const two = await bfl(s, key)
    expect([one.status, two.status]).toEqual([200, 200])
    expect(one.headers.get('ratelimit-policy')).toBe('"rpm";q=2;w=60')
    expect(one.headers.get('ratelimit-remaining')).toBe('1')
    expect(two.headers.get('ratelimit')).toMatch(/^"rpm";r=0;t=\d+$/)
    const three = await bfl(s, key)
    expect(three.status).toBe(429)
    expect(Number(three.headers.get('retry-after'))).toBeGreaterThan(50)
    expect(three.headers.get('ratelimit-limit')).toBe('2')
    expect(three.headers.get('ratelimit-remaining')).toBe('0')
    expect(three.body.detail).toMatch(/2 jobs per minute/)
    s.clock.advance(60_000)
    expect((await bfl(s, key)).status).toBe(200)
  })

  it('credits: 200 creates at once against credits for 10 jobs accept 10; a top-up is in the ledger', async () => {
    // flux-pro-1.1 is $0.04 = 4 credits a job.
    const { key, id } = await limitedKey(s, {}, 40)
    expect(await creditsOf(s, key)).toBe(40)
    const answers = await Promise.all(Array.from({ length: 200 }, () => bfl(s, key)))
    const accepted = answers.filter((a) => a.status === 200).map((a) => a.body.id as string)
    expect(new Set(accepted).size).toBe(10)
    const refused = answers.filter((a) => a.status !== 200)
    expect(refused).toHaveLength(190)
    for (const answer of refused) {
      expect(answer.status).toBe(402)
      expect(answer.body.detail).toMatch(/0 credits left/)
    }
    expect(await creditsOf(s, key)).toBe(0)
    const topUp = await api(`${s.url}/api/admin/keys/${id}/credits`, { key: KEY_A, body: { add: 8, note: 'more' } })
    expect(topUp.body.credits).toMatchObject({ balance: 48, reserved: 40, available: 8 })
    expect(await creditsOf(s, key)).toBe(8)
    const ledger = await api(`${s.url}/api/admin/keys/${id}/ledger`, { key: KEY_A })
    expect(ledger.body.data[0]).toMatchObject({ kind: 'topup', credits: 8, balance: 48, note: 'more' })
    expect(ledger.body.data[0].actor).toMatch(/^key:env_/)
    expect(ledger.body.data[1]).toMatchObject({ kind: 'set', credits: 40, balance: 40 })
    // Refusals are counted by reason.
    const metrics = await fetch(`${s.url}/metrics`).then((r) => r.text())
    expect(metrics).toMatch(/fluxhost_refusals_total\{reason="credits"\} 190/)
  })

  it('concurrent creates of a limited key with room share a commit, each counted once in its minute', async () => {
    const { key } = await limitedKey(s, { rpm: 100, concurrency: 100 }, 1000)
    s.clock.advance(60_000 - (s.clock.now() % 60_000) + 10)
    const answers = await Promise.all(Array.from({ length: 8 }, () => bfl(s, key)))
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200))
    const remaining = answers.map((a) => Number(a.headers.get('ratelimit-remaining'))).sort((a, b) => a - b)
    expect(remaining).toEqual([92, 93, 94, 95, 96, 97, 98, 99])
    const me = (await api(`${s.url}/api/me`, { key })).body.limits
    expect(me.rpm.used).toBe(8)
    expect(me.concurrency.active).toBe(8)
    expect(me.credits).toEqual({ balance: 1000, reserved: 32, available: 968 })
  })

  it('keys see their own limits; only admins change them, and bad values name the field', async () => {
    const { key, id } = await limitedKey(s, { budget: { usd: 20, period: 'month' } })
    expect((await api(`${s.url}/api/me`, { key })).body.limits.budget).toMatchObject({
      limit: { usd: '20.00', period: 'month' },
      spentUsd: '0.00',
    })
    const asUser = await api(`${s.url}/api/admin/keys/${id}/limits`, { method: 'PATCH', key, body: { rpm: 5 } })
    expect(asUser.status).toBe(403)
    const bad = await api(`${s.url}/api/admin/keys/${id}/limits`, {
      method: 'PATCH',
      key: KEY_A,
      body: { concurrency: -3 },
    })
    expect(bad.status).toBe(422)
    expect(JSON.stringify(bad.body)).toMatch(/concurrency/)
    // A key's event webhook is vetted as a job's is: no private addresses (without ALLOW_PRIVATE_URLS).
    const inside = await api(`${s.url}/api/admin/keys/${id}/limits`, {
      method: 'PATCH',
      key: KEY_A,
      body: { webhookUrl: 'http://127.0.0.1:9/hook' },
    })
    expect(inside.status).toBe(422)
    expect(inside.body.error.issues[0].loc).toEqual(['body', 'webhookUrl'])
    // A key without limits has "unlimited" credits on BFL's endpoint.
    expect((await api(`${s.url}/v1/credits`, { key: KEY_A })).body).toEqual({ credits: 1e9, unlimited: true })
    const csv = await api(`${s.url}/api/usage.csv`, { key })
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/)
    expect(csv.text.split('\r\n')[0]).toBe('day,key_id,key_name,model,jobs,images,usd')
  })
})

describe('server-wide defaults (FLUXHOST_KEY_CONCURRENCY)', () => {
  let s: TestServer
  beforeAll(async () => {
    s = await startTestServer({ FLUXHOST_KEY_CONCURRENCY: '1' }, { worker: false })
  })
  afterAll(() => s?.close())

  it("hold keys made in the records until their own setting says otherwise; not FLUXHOST_API_KEYS' keys", async () => {
    const { key, id } = await limitedKey(s, {})
    expect((await bfl(s, key)).status).toBe(200)
    expect((await bfl(s, key)).status).toBe(429)
    const me = (await api(`${s.url}/api/me`, { key })).body
    expect(me.limits.concurrency).toEqual({ limit: 1, setting: 'default', active: 1 })
    // The operator's key from FLUXHOST_API_KEYS is not held by the default.
    for (let i = 0; i < 3; i++) expect((await bfl(s, KEY_A)).status).toBe(200)
    const lifted = await api(`${s.url}/api/admin/keys/${id}/limits`, {
      method: 'PATCH',
      key: KEY_A,
      body: { concurrency: 'none' },
    })
    expect(lifted.body.concurrency).toEqual({ limit: null, setting: 'none', active: 1 })
    expect((await bfl(s, key)).status).toBe(200)
  })
})

describe('an API process with FLUXHOST_KEY_BUDGET and a worker process without it, on one data dir', () => {
  let apiOnly: TestServer
  let worker: TestServer
  beforeAll(async () => {
    apiOnly = await startTestServer({ FLUXHOST_KEY_BUDGET: '0.08/day' }, { worker: false })
    worker = await startTestServer(apiOnly.recordsEnv, { worker: true, dataDir: apiOnly.dataDir })
  })
  afterAll(async () => {
    await worker?.close()
    await apiOnly?.close()
  })

  it("settles into the API's budget: the worker's own (lack of) configuration does not matter", async () => {
    const { key } = await limitedKey(apiOnly, {})
    // Both clocks past midnight if it is near, so the two jobs settle in one UTC day.
    const dayLeft = DAY - (apiOnly.clock.now() % DAY)
    if (dayLeft < 3_600_000) for (const s of [apiOnly, worker]) s.clock.advance(dayLeft + 60_000)
    for (let i = 0; i < 2; i++) {
      const created = await bfl(apiOnly, key)
      expect(created.status).toBe(200)
      expect((await worker.waitForJob(created.body.id)).state).toBe('succeeded')
    }
    const budget = (await api(`${apiOnly.url}/api/me`, { key })).body.limits.budget
    expect(budget).toMatchObject({ limit: { usd: '0.08', period: 'day' }, spentUsd: '0.08' })
    expect((await bfl(apiOnly, key)).status).toBe(402)
  })
})

describe('reservations settle on success and are released on every other end (with a worker)', () => {
  let s: TestServer
  beforeAll(async () => {
    s = await startTestServer({ FLUXHOST_ALLOW_PRIVATE_URLS: '1' })
  })
  afterAll(() => s?.close())

  /** Moves the server's clock past midnight (UTC) if it is within the hour before. */
  const awayFromMidnight = () => {
    const intoDay = s.clock.now() % DAY
    if (intoDay > DAY - 3_600_000) s.clock.advance(DAY - intoDay + 60_000)
  }

  it('failure, moderation and cancel give the credits back; success takes the price', async () => {
    const { key } = await limitedKey(s, {}, 8)
    for (const simulate of ['error', 'request_moderated', 'content_moderated']) {
      const created = await bfl(s, key, { 'x-fluxhost-simulate': simulate })
      expect(created.status, simulate).toBe(200)
      expect((await s.waitForJob(created.body.id)).state, simulate).toBe('failed')
      expect(await creditsOf(s, key), simulate).toBe(8)
    }
    const slow = await bfl(s, key, { 'x-fluxhost-simulate': 'slow=20000' })
    await s.waitUntilRunning(slow.body.id)
    expect(await creditsOf(s, key)).toBe(4) // reserved while it runs
    expect((await api(`${s.url}/api/jobs/${slow.body.id}/cancel`, { key, body: {} })).status).toBe(200)
    expect(await creditsOf(s, key)).toBe(8)
    const ok = await bfl(s, key)
    expect((await s.waitForJob(ok.body.id)).state).toBe('succeeded')
    expect(await creditsOf(s, key)).toBe(4)
    expect((await api(`${s.url}/api/me`, { key })).body.limits.credits).toEqual({
      balance: 4,
      reserved: 0,
      available: 4,
    })
  })

  it('a daily budget refuses with 402 once spent, in each API; the next UTC day renews it', async () => {
    const { key } = await limitedKey(s, { budget: { usd: 0.04, period: 'day' } })
    awayFromMidnight() // so that the day cannot turn between the creates
    const first = await bfl(s, key)
    expect((await s.waitForJob(first.body.id)).state).toBe('succeeded')
    for (const route of CREATES) {
      const refused = await api(`${s.url}${route.path}`, { key, body: route.body })
      expect(refused.status, `${route.name}: ${refused.text}`).toBe(402)
      expect(refusalCode(route.name, refused.body)).toBe(route.name === 'BFL' ? 'detail' : 'BUDGET_EXCEEDED')
      const retryAfter = Number(refused.headers.get('retry-after'))
      expect(retryAfter).toBeGreaterThan(0)
      expect(retryAfter).toBeLessThanOrEqual(DAY / 1000)
    }
    expect((await api(`${s.url}/api/me`, { key })).body.limits.budget.spentUsd).toBe('0.04')
    s.clock.advance(DAY)
    expect((await api(`${s.url}/api/me`, { key })).body.limits.budget.spentUsd).toBe('0.00')
    const next = await bfl(s, key)
    expect(next.status).toBe(200)
    expect((await s.waitForJob(next.body.id)).state).toBe('succeeded')
  })
  it("passing 80 % and 100 % of the budget sends signed events to the key's webhook, once each", async () => {
    const receiver = await startReceiver()
    try {
      // $0.10 a day, $0.04 a job: after two, $0.08 is 80 % and what is left covers no third job.
      const { key } = await limitedKey(s, { budget: { usd: 0.1, period: 'day' }, webhookUrl: receiver.url })
      awayFromMidnight()
      for (let i = 0; i < 2; i++) {
        const created = await bfl(s, key)
        expect((await s.waitForJob(created.body.id)).state).toBe('succeeded')
      }
      const secret = (await api(`${s.url}/api/webhook-secret`, { key })).body.secret as string
      // Signed as Standard Webhooks signs (checked against the signing time the headers name: the
      // server's clock is this test's, hours ahead of the receiver's perhaps).
      const events = (await receiver.received(2)).map((r) => {
        const at = new Date(Number(r.headers['webhook-timestamp']) * 1000)
        expect(r.headers['webhook-signature']).toBe(
          new Webhook(secret).sign(String(r.headers['webhook-id']), at, r.body),
        )
        return JSON.parse(r.body)
      })
      expect(events.map((e) => e.data.percent).sort()).toEqual([100, 80])
      for (const event of events) {
        expect(event).toMatchObject({
          type: 'key.budget.threshold',
          data: { spentUsd: '0.08', budgetUsd: '0.10', period: 'day' },
        })
      }
      expect((await bfl(s, key)).status).toBe(402)
    } finally {
      await receiver.close()
    }
  })
})

describe.runIf(postgres.ok && process.env.FLUXHOST_TEST_MODE !== 'distributed')(
  'two API processes on one PostgreSQL',
  () => {
    it('200 creates at once, spread over both, against credits for 10 jobs: exactly 10 accepted', async () => {
      const { schema, drop } = await createSchema()
      const env = {
        DATABASE_URL: POSTGRES_URL,
        FLUXHOST_DATABASE_SCHEMA: schema,
        FLUXHOST_API_KEYS: KEY_A,
        FLUXHOST_WORKER: '0',
      }
      const one = await startServe(env)
      const two = await startServe(env)
      try {
        const { key } = await limitedKey(one, {}, 40)
        const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => bfl(i % 2 ? one : two, key)))
        const accepted = answers.filter((a) => a.status === 200).map((a) => a.body.id as string)
        expect(new Set(accepted).size).toBe(10)
        expect(answers.filter((a) => a.status === 402)).toHaveLength(190)
        // Both processes took part.
        expect(answers.filter((a, i) => i % 2 === 0 && a.status === 402).length).toBeGreaterThan(0)
        expect(answers.filter((a, i) => i % 2 === 1 && a.status === 402).length).toBeGreaterThan(0)
      } finally {
        one.child.process.kill('SIGTERM')
        two.child.process.kill('SIGTERM')
        await Promise.all([one.child.exited, two.child.exited])
        await drop()
      }
    })
  },
)

describe
  .runIf(process.env.FLUXHOST_TEST_MODE !== 'distributed')
  .each(postgres.ok ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const))(
  'a create killed between its reservation and its job (%s)',
  (kind) => {
    it('leaves nothing reserved and nothing counted: the reservation and the job are one transaction', async () => {
      const dataDir = tempDir()
      const env: Record<string, string> = { FLUXHOST_DATA_DIR: dataDir, FLUXHOST_API_KEYS: KEY_A, FLUXHOST_WORKER: '0' }
      let drop = async () => {}
      if (kind === 'postgres') {
        const schema = await createSchema()
        drop = schema.drop
        Object.assign(env, { DATABASE_URL: POSTGRES_URL, FLUXHOST_DATABASE_SCHEMA: schema.schema })
      }
      try {
        const dying = await startServe({ ...env, FLUXHOST_FAILPOINT: 'limits-reserved' })
        const { key } = await limitedKey(dying, { concurrency: 1, rpm: 1 }, 4)
        // With an Idempotency-Key the reservation, the job and the key's binding are one transaction
        // on either store (without one, PostgreSQL reserves and inserts in one statement: no point
        // between them to crash at). SIGKILLed before it could answer:
        await expect(bfl(dying, key, { 'idempotency-key': 'crash-between' })).rejects.toThrow()
        expect((await dying.child.exited).signal).toBe('SIGKILL')
        const after = await startServe(env)
        try {
          const me = (await api(`${after.url}/api/me`, { key })).body
          expect(me.limits.concurrency.active).toBe(0)
          expect(me.limits.rpm.used).toBe(0)
          expect(me.limits.credits).toEqual({ balance: 4, reserved: 0, available: 4 })
          expect((await api(`${after.url}/api/jobs`, { key })).body.data).toEqual([])
          // Room for exactly the one job the limits allow, as if the crash never happened.
          expect((await bfl(after, key)).status).toBe(200)
          expect((await bfl(after, key)).status).toBe(429)
        } finally {
          after.child.process.kill('SIGTERM')
          await after.child.exited
        }
      } finally {
        await drop()
        fs.rmSync(dataDir, { recursive: true, force: true })
      }
    })
  },
)
