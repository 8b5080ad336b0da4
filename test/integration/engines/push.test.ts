import { createHash, createHmac, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EngineTask, ImageEngine } from '../../../src/engines/engine.js'
import { createFalEngine, type FalEngineOptions } from '../../../src/engines/fal/fal-engine.js'
import { createReplicateEngine, type ReplicateEngineOptions } from '../../../src/engines/replicate/replicate-engine.js'
import { type FalEmulator, startFalEmulator } from '../../emulators/fal.js'
import { type ReplicateEmulator, startReplicateEmulator } from '../../emulators/replicate.js'
import { type PushReceiver, startPushReceiver } from './push-receiver.js'

const task = (jobId: string, overrides: Partial<EngineTask> = {}): EngineTask => ({
  jobId,
  model: 'flux-pro-1.1',
  prompt: 'a harbour at first light',
  width: 256,
  height: 256,
  seed: 3,
  numImages: 1,
  promptUpsampling: false,
  raw: false,
  safetyTolerance: 2,
  output: { format: 'png', quality: 90 },
  ...overrides,
})
const closedPort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })
const now = () => Math.floor(Date.now() / 1000)

let receiver: PushReceiver
beforeAll(async () => {
  receiver = await startPushReceiver()
})
afterAll(() => receiver.close())

/** Runs one task with the job's push side, as the worker does; closes it after. */
async function generateWithPush(engine: ImageEngine, jobId: string, overrides: Partial<EngineTask> = {}) {
  const push = receiver.push(jobId)
  try {
    return await engine.generate(task(jobId, overrides), {
      signal: new AbortController().signal,
      progress: () => undefined,
      push,
    })
  } finally {
    push.close()
  }
}
const verifier = (engine: ImageEngine) => (headers: IncomingHttpHeaders, body: Buffer) =>
  engine.verifyPush!({ headers, body, secret: 'unused by this provider' })

describe('fal with provider callbacks', () => {
  // The test holds fal's signing key, so it can sign calls itself by the documented scheme.
  const falKey = generateKeyPairSync('ed25519').privateKey
  const otherKey = generateKeyPairSync('ed25519').privateKey
  let emulator: FalEmulator
  let engine: ReturnType<typeof createFalEngine>
  const fal = (options: Partial<FalEngineOptions> = {}) =>
    createFalEngine({
      ...{ apiKey: 'fal-key', baseUrl: emulator.url, maxActive: 4, pricesUsd: {}, pollMinMs: 5, pollMaxMs: 20 },
      jwksUrl: `${emulator.url}/.well-known/jwks.json`,
      ...options,
    })
  /** fal's message: request_id \n user_id \n timestamp \n sha256hex(body), signed ED25519, in hex. */
  const signAsFal = (key: KeyObject, body: Buffer, requestId: string, timestamp = now()) => {
    const digest = createHash('sha256').update(body).digest('hex')
    const message = Buffer.from(`${requestId}\nuser-1\n${timestamp}\n${digest}`)
    return {
      'x-fal-webhook-request-id': requestId,
      'x-fal-webhook-user-id': 'user-1',
      'x-fal-webhook-timestamp': String(timestamp),
      'x-fal-webhook-signature': sign(null, message, key).toString('hex'),
    }
  }
  beforeAll(async () => {
    emulator = await startFalEmulator({ key: 'fal-key', signingKey: falKey })
    engine = fal({ pushPollMs: 3_600_000 })
    receiver.engines.set('fal', engine)
  })
  afterAll(() => emulator.close())

  it('submits with fal_webhook; the task ends only because the verified call woke it', async () => {
    emulator.script({ delayMs: 20, pendingPolls: 0 })
    // The safety net would first read after an hour: only the call can end this wait.
    const output = await generateWithPush(engine, 'job-fal-woken')
    expect(output.images).toHaveLength(1)
    const id = output.upstreamIds![0]!
    const sent = emulator.submits.at(-1)!
    expect(sent.path).toBe('/fal-ai/flux-pro/v1.1')
    expect(sent.query.get('fal_webhook')).toBe(receiver.keys.url('fal', 'job-fal-woken', 0))
    expect(receiver.calls.filter((c) => c.job === 'job-fal-woken')).toMatchObject([{ task: 0, verified: true }])
    await expect.poll(() => emulator.webhooks.find((w) => w.requestId === id)?.status).toBe(204)
    // One status read: the one the wake made.
    expect(emulator.statusReads.filter((r) => r.path.includes(id))).toEqual([
      { path: `/fal-ai/flux-pro/requests/${id}/status`, status: 200 },
    ])
  })

  it("accepts fal's real call; refuses a changed body, another key, an old timestamp, another request", async () => {
    const real = receiver.calls.find((c) => c.engine === 'fal' && c.verified)!
    const verify = verifier(engine)
    const id = String(real.headers['x-fal-webhook-request-id'])
    expect(await verify(real.headers, real.body)).toBe(true)
    expect(await verify(real.headers, Buffer.from(real.body.toString().replace('"OK"', '"ERROR"')))).toBe(false)
    // Signed here by the documented scheme: fal's key passes, and nothing else does.
    expect(await verify(signAsFal(falKey, real.body, id), real.body)).toBe(true)
    expect(await verify(signAsFal(otherKey, real.body, id), real.body)).toBe(false)
    expect(await verify(signAsFal(falKey, real.body, id, now() - 600), real.body)).toBe(false)
    expect(await verify(signAsFal(falKey, real.body, id, now() + 600), real.body)).toBe(false)
    const another = Buffer.from(
      JSON.stringify({ ...JSON.parse(real.body.toString()), request_id: 'x', gateway_request_id: 'x' }),
    )
    expect(await verify(signAsFal(falKey, another, id), another)).toBe(false)
    const { 'x-fal-webhook-signature': _, ...unsigned } = signAsFal(falKey, real.body, id)
    expect(await verify(unsigned, real.body)).toBe(false)
    expect(await verify({ ...unsigned, 'x-fal-webhook-signature': 'zz' }, real.body)).toBe(false)
    expect(await verify(signAsFal(falKey, Buffer.from('not json'), id), Buffer.from('not json'))).toBe(false)
  })

  it('fetches the JWKS once, again at most once when no key verifies a call, and never throws', async () => {
    const real = receiver.calls.find((c) => c.engine === 'fal' && c.verified)!
    const id = String(real.headers['x-fal-webhook-request-id'])
    const fresh = verifier(fal())
    const before = emulator.jwksReads()
    for (let n = 0; n < 3; n++) expect(await fresh(real.headers, real.body)).toBe(true)
    for (let n = 0; n < 5; n++) expect(await fresh(signAsFal(otherKey, real.body, id), real.body)).toBe(false)
    expect(emulator.jwksReads() - before).toBe(1)
    // fal rotates its key: a call the cached keys do not verify fetches them again, once.
    const rotating = verifier(fal({ jwksRetryMs: 0 }))
    expect(await rotating(real.headers, real.body)).toBe(true)
    const nextKey = generateKeyPairSync('ed25519').privateKey
    emulator.signer.rotate(nextKey)
    try {
      const reads = emulator.jwksReads()
      expect(await rotating(signAsFal(nextKey, real.body, id), real.body)).toBe(true)
      expect(await rotating(signAsFal(otherKey, real.body, id), real.body)).toBe(false)
      expect(emulator.jwksReads() - reads).toBe(2)
    } finally {
      emulator.signer.rotate(falKey)
    }
    const unreachable = fal({ jwksUrl: `http://127.0.0.1:${await closedPort()}/jwks.json` })
    expect(await verifier(unreachable)(real.headers, real.body)).toBe(false)
  })

  it('finds the result with the safety-net poll when the call never comes', async () => {
    emulator.script({ pendingPolls: 1, skipWebhook: true })
    const output = await generateWithPush(fal({ pushPollMs: 20 }), 'job-fal-net')
    expect(output.images).toHaveLength(1)
    expect(emulator.webhooks.some((w) => w.requestId === output.upstreamIds![0])).toBe(false)
    expect(receiver.calls.some((c) => c.job === 'job-fal-net')).toBe(false)
  })

  it('names no fal_webhook without callbacks', async () => {
    emulator.script({ pendingPolls: 1 })
    await fal().generate(task('job-fal-plain'), { signal: new AbortController().signal, progress: () => undefined })
    expect(emulator.submits.at(-1)!.query.has('fal_webhook')).toBe(false)
  })
})

describe('Replicate with provider callbacks', () => {
  let emulator: ReplicateEmulator
  let engine: ReturnType<typeof createReplicateEngine>
  const replicate = (options: Partial<ReplicateEngineOptions> = {}) =>
    createReplicateEngine({
      ...{ apiKey: 'r8-key', baseUrl: emulator.url, maxActive: 4, pricesUsd: {}, pollMinMs: 5, pollMaxMs: 20 },
      ...options,
    })
  /** Standard Webhooks: HMAC-SHA256 over `${id}.${timestamp}.${body}`, keyed with the bytes after whsec_. */
  const signAsReplicate = (secret: string, body: Buffer, timestamp = now()) => {
    const id = `msg_${randomBytes(8).toString('hex')}`
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
    const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')
    return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${mac}` }
  }
  const wrongSecret = `whsec_${randomBytes(24).toString('base64')}`
  beforeAll(async () => {
    emulator = await startReplicateEmulator({ key: 'r8-key' })
    engine = replicate({ pushPollMs: 3_600_000 })
    receiver.engines.set('replicate', engine)
  })
  afterAll(() => emulator.close())

  it('creates each prediction with its webhook for `completed`; each ends only because its call woke it', async () => {
    emulator.script({ delayMs: 20, pendingPolls: 0 })
    const reads = emulator.reads()
    // Two images are two predictions: push tasks 0 and 1.
    const output = await generateWithPush(engine, 'job-r8-woken', { numImages: 2 })
    expect(output.images).toHaveLength(2)
    const bodies = emulator.submits.slice(-2).map((s) => s.body)
    expect(bodies.map((b) => [b.webhook, b.webhook_events_filter])).toEqual([
      [receiver.keys.url('replicate', 'job-r8-woken', 0), ['completed']],
      [receiver.keys.url('replicate', 'job-r8-woken', 1), ['completed']],
    ])
    const calls = receiver.calls.filter((c) => c.job === 'job-r8-woken')
    expect(calls.map((c) => [c.task, c.verified])).toEqual([
      [0, true],
      [1, true],
    ])
    await expect
      .poll(() => emulator.webhooks.filter((w) => output.upstreamIds!.includes(w.id)).map((w) => [w.event, w.status]))
      .toEqual([
        ['completed', 204],
        ['completed', 204],
      ])
    // One read per prediction: the one its wake made.
    expect(emulator.reads() - reads).toBe(2)
  })

  it("accepts Replicate's real call; refuses a changed body, another secret, an old timestamp", async () => {
    const real = receiver.calls.find((c) => c.engine === 'replicate' && c.verified)!
    const fresh = replicate()
    const verify = verifier(fresh)
    const before = emulator.secretReads()
    expect(await verify(real.headers, real.body)).toBe(true)
    expect(await verify(real.headers, Buffer.from(real.body.toString().replace('succeeded', 'failed')))).toBe(false)
    // Signed here by the documented scheme: the account's secret passes, and nothing else does.
    expect(await verify(signAsReplicate(emulator.secret(), real.body), real.body)).toBe(true)
    expect(await verify(signAsReplicate(wrongSecret, real.body), real.body)).toBe(false)
    expect(await verify(signAsReplicate(emulator.secret(), real.body, now() - 600), real.body)).toBe(false)
    expect(await verify(signAsReplicate(emulator.secret(), real.body, now() + 600), real.body)).toBe(false)
    const good = signAsReplicate(emulator.secret(), real.body)
    const bad = signAsReplicate(wrongSecret, real.body)
    expect(
      await verify(
        { ...good, 'webhook-signature': `${bad['webhook-signature']} ${good['webhook-signature']}` },
        real.body,
      ),
    ).toBe(true)
    expect(await verify({ 'webhook-id': good['webhook-id'] }, real.body)).toBe(false)
    // The secret was fetched once: calls it does not verify wait out the retry floor.
    expect(emulator.secretReads() - before).toBe(1)
    expect(await verifier(replicate({ apiKey: 'refused' }))(real.headers, real.body)).toBe(false)
  })

  it('fetches the secret again, once, when the account rotated it', async () => {
    const real = receiver.calls.find((c) => c.engine === 'replicate' && c.verified)!
    const verify = verifier(replicate({ pushSecretRetryMs: 0 }))
    expect(await verify(real.headers, real.body)).toBe(true)
    const reads = emulator.secretReads()
    const next = emulator.rotateSecret()
    expect(await verify(signAsReplicate(next, real.body), real.body)).toBe(true)
    expect(await verify(signAsReplicate(wrongSecret, real.body), real.body)).toBe(false)
    // A stale timestamp is refused as such, without asking for the secret.
    expect(await verify(signAsReplicate(next, real.body, now() - 600), real.body)).toBe(false)
    expect(emulator.secretReads() - reads).toBe(2)
  })

  it('finds the result with the safety-net poll when the call never comes', async () => {
    emulator.script({ pendingPolls: 1, skipWebhook: true })
    const output = await generateWithPush(replicate({ pushPollMs: 20 }), 'job-r8-net')
    expect(output.images).toHaveLength(1)
    expect(emulator.webhooks.some((w) => w.id === output.upstreamIds![0])).toBe(false)
    expect(receiver.calls.some((c) => c.job === 'job-r8-net')).toBe(false)
  })

  it('names no webhook without callbacks', async () => {
    emulator.script({ pendingPolls: 1 })
    await replicate().generate(task('job-r8-plain'), {
      signal: new AbortController().signal,
      progress: () => undefined,
    })
    expect(emulator.submits.at(-1)!.body).not.toHaveProperty('webhook')
  })
})
