import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, KEY_A, KEY_B, startTestServer, type TestServer, tempDir } from '../helpers/server.js'

const strong = fs.readFileSync(new URL('../fixtures/safety/grid-strong.png', import.meta.url))
const mid = fs.readFileSync(new URL('../fixtures/safety/grid-mid.png', import.meta.url))

let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ FLUXHOST_SAFETY_CHECKER: '1' })
})
afterAll(() => server.close())

/** A native job whose output is the image prompt itself (strength 1, same size, lossless). */
async function jobShowing(image: Buffer, safetyTolerance: number, key = KEY_A) {
  const created = await api(`${server.url}/api/jobs`, {
    key,
    body: {
      prompt: 'an abstract colour study',
      width: 256,
      height: 256,
      outputFormat: 'png',
      safetyTolerance,
      imagePrompt: { data: image.toString('base64'), strength: 1 },
    },
  })
  expect(created.status).toBe(202)
  return server.waitForJob(created.body.id)
}

// Preview renders are classified too, and at strict tolerances a few percent of them are
// flagged (docs/safety.md): every render here has a fixed seed, so each verdict is fixed.
describe('safety checker on a local engine', () => {
  it('a flagged output fails the job as CONTENT_MODERATED, uncharged; BFL reads it as Content Moderated', async () => {
    const before = (await api(`${server.url}/api/usage`)).body.total.jobs
    const job = await jobShowing(strong, 6)
    expect(job.state).toBe('failed')
    expect(job.error).toMatchObject({
      code: 'CONTENT_MODERATED',
      message: expect.stringMatching(/explicit content \(porn \d+% ≥ 97% at safety_tolerance 6\)/),
    })
    expect((await api(`${server.url}/api/usage`)).body.total.jobs).toBe(before)
    const bfl = await api(`${server.url}/v1/get_result?id=${job.id}`)
    expect(bfl.body.status).toBe('Content Moderated')
  })

  it('thresholds follow safety_tolerance: the middling image fails at 1 and passes at 2', async () => {
    expect((await jobShowing(mid, 1)).error?.code).toBe('CONTENT_MODERATED')
    const passed = await jobShowing(mid, 2)
    expect(passed.state).toBe('succeeded')
    expect(passed.result?.safetyMs).toBeGreaterThan(0)
  })

  it('neutral outputs pass at the strictest tolerance', async () => {
    const created = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'a teal lighthouse at dusk', width: 512, height: 384, seed: 3, safety_tolerance: 0 },
    })
    const polled = await server.waitForJob(created.body.id)
    expect(polled.state).toBe('succeeded')
    expect((await api(`${server.url}/v1/get_result?id=${created.body.id}`)).body.status).toBe('Ready')
  })

  it('AIML-style jobs black the flagged image out, report it and do not charge it', async () => {
    const apiKey = (await server.fluxhost.services.keys.authenticate(KEY_B))!
    const before = (await api(`${server.url}/api/usage`, { key: KEY_B })).body.total.jobs
    const job = await server.fluxhost.services.jobs.create({
      apiKey,
      dialect: 'aiml',
      request: {
        model: 'flux-pro-1.1',
        prompt: 'an abstract colour study',
        width: 256,
        height: 256,
        numImages: 1,
        promptUpsampling: false,
        raw: false,
        safetyTolerance: 2,
        safetyChecker: true,
        flaggedOutput: 'blackout',
        output: { format: 'png', quality: 90 },
      },
      imagePrompt: { source: { data: strong }, strength: 1, loc: ['body', 'image'] },
    })
    const done = await server.waitForJob(job.id)
    expect(done.state).toBe('succeeded')
    expect(done.result?.nsfw).toEqual([true])
    const file = await server.fluxhost.blobs.read(done.result!.images[0]!.key)
    const { data } = await sharp(file!).raw().toBuffer({ resolveWithObject: true })
    expect(data.every((byte) => byte === 0)).toBe(true)
    expect((await api(`${server.url}/api/usage`, { key: KEY_B })).body.total.jobs).toBe(before)
  })

  it("AIML's enable_safety_checker: false skips the classifier", async () => {
    const generate = (enable: boolean) =>
      api(`${server.url}/v1/images/generations`, {
        key: null,
        headers: { authorization: `Bearer ${KEY_B}` },
        body: {
          model: 'flux-pro/v1.1',
          prompt: 'a lighthouse',
          image_size: 'square',
          seed: 5,
          enable_safety_checker: enable,
        },
      })
    const on = await generate(true)
    const off = await generate(false)
    expect(on.body.has_nsfw_concepts).toEqual([false])
    const jobs = (await api(`${server.url}/api/jobs?limit=2`, { key: KEY_B })).body.data
    const [offJob, onJob] = await Promise.all(jobs.map((j: any) => server.fluxhost.services.jobs.get(j.id, undefined)))
    expect(onJob!.result?.safetyMs).toBeGreaterThan(0)
    expect(offJob!.result?.safetyMs).toBeUndefined()
    expect(off.status).toBe(201)
  })
})

describe('prompt blocklist', () => {
  it('refuses a blocked prompt before generating (Request Moderated), by tolerance; never charged', async () => {
    const strict = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'a nude marble statue', width: 256, height: 256, safety_tolerance: 2 },
    })
    const lenient = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'a nude marble statue', width: 256, height: 256, seed: 5, safety_tolerance: 5 },
    })
    const strictJob = await server.waitForJob(strict.body.id)
    expect(strictJob.error).toMatchObject({ code: 'REQUEST_MODERATED', message: expect.stringContaining("'nude'") })
    expect(strictJob.startedAt).not.toBeNull()
    expect((await api(`${server.url}/v1/get_result?id=${strict.body.id}`)).body.status).toBe('Request Moderated')
    expect((await server.waitForJob(lenient.body.id)).state).toBe('succeeded')

    const aiml = await api(`${server.url}/v1/images/generations`, {
      key: null,
      headers: { authorization: `Bearer ${KEY_A}` },
      body: { model: 'flux-pro/v1.1', prompt: 'porn', seed: 5, safety_tolerance: '6' },
    })
    expect(aiml.status).toBe(201)
    const aimlStrict = await api(`${server.url}/v1/images/generations`, {
      key: null,
      headers: { authorization: `Bearer ${KEY_A}` },
      body: { model: 'flux-pro/v1.1', prompt: 'porn', safety_tolerance: '5' },
    })
    expect(aimlStrict.status).toBe(400)
    expect(aimlStrict.body.error.code).toBe('REQUEST_MODERATED')
  })

  it('FLUXHOST_PROMPT_BLOCKLIST replaces the list; a bad file stops the start, naming it', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'blocklist.txt')
    fs.writeFileSync(file, '# house rules\nclown = 6\n')
    const custom = await startTestServer({ FLUXHOST_PROMPT_BLOCKLIST: file, FLUXHOST_SAFETY_CHECKER: '1' })
    try {
      const clown = await api(`${custom.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'a clown', width: 256, height: 256, safety_tolerance: 6 },
      })
      expect((await custom.waitForJob(clown.body.id)).error?.code).toBe('REQUEST_MODERATED')
      const nude = await api(`${custom.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'a nude statue', width: 256, height: 256, seed: 3, safety_tolerance: 0 },
      })
      expect((await custom.waitForJob(nude.body.id)).state).toBe('succeeded')
    } finally {
      await custom.close()
    }
    fs.writeFileSync(file, 'clown = eleven\n')
    await expect(startTestServer({ FLUXHOST_PROMPT_BLOCKLIST: file })).rejects.toThrow(
      /FLUXHOST_PROMPT_BLOCKLIST .*line 1/,
    )
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
