import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiKey } from '../../src/domain/api-key.js'
import { api, KEY_A, KEY_B, startTestServer, type TestServer, tempDir } from '../helpers/server.js'

const strong = fs.readFileSync(new URL('../fixtures/safety/grid-strong.png', import.meta.url))
const mid = fs.readFileSync(new URL('../fixtures/safety/grid-mid.png', import.meta.url))

let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ FLUXHOST_SAFETY_CHECKER: '1' })
})
afterAll(() => server.close())

/**
 * A native job whose output is the image prompt itself (strength 1, same size, lossless), made
 * through the service: a preview render's PNG is over the route's body limit.
 */
async function jobShowing(image: Buffer, safetyTolerance: number, key = KEY_A) {
  const { width, height } = await sharp(image).metadata()
  const apiKey = (await server.fluxhost.services.keys.authenticate(key))!
  const job = await server.fluxhost.services.jobs.create({
    apiKey,
    dialect: 'native',
    request: {
      model: 'flux-pro-1.1',
      prompt: 'an abstract colour study',
      width: width!,
      height: height!,
      numImages: 1,
      promptUpsampling: false,
      raw: false,
      safetyTolerance,
      safetyChecker: true,
      output: { format: 'png', quality: 90 },
    },
    imagePrompt: { source: { data: image }, strength: 1, loc: ['body', 'imagePrompt', 'data'] },
  })
  return server.waitForJob(job.id)
}

/** An AIML-style job (flagged outputs blacked out) whose output shows the strong fixture through its image prompt. */
function aimlJobShowingStrong(apiKey: ApiKey, safetyChecker: boolean) {
  return server.fluxhost.services.jobs.create({
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
      safetyChecker,
      flaggedOutput: 'blackout',
      output: { format: 'png', quality: 90 },
    },
    imagePrompt: { source: { data: strong }, strength: 1, loc: ['body', 'image'] },
  })
}

/** How many jobs' outputs the classifier has checked, from /metrics. */
async function classified(): Promise<number> {
  const { text } = await api(`${server.url}/metrics`, { key: null })
  const counts = text.matchAll(/^fluxhost_safety_check_duration_seconds_count\{[^}]*\} (\d+)$/gm)
  return [...counts].reduce((sum, match) => sum + Number(match[1]), 0)
}

// The preview engine's own renders skip the classifier; with an image prompt its output shows
// the client's image, and is classified: the tests below feed the classifier that way.
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
    const render = await previewRender({ prompt: 'a teal lighthouse at dusk', width: 512, height: 384, seed: 3 })
    const before = await classified()
    const job = await jobShowing(render.png, 0)
    expect(job.state).toBe('succeeded')
    expect(job.result?.safetyMs).toBeGreaterThan(0)
    expect(await classified()).toBe(before + 1)
    expect((await api(`${server.url}/v1/get_result?id=${job.id}`)).body.status).toBe('Ready')
  })

  it('AIML-style jobs black the flagged image out, report it and do not charge it', async () => {
    const apiKey = (await server.fluxhost.services.keys.authenticate(KEY_B))!
    const before = (await api(`${server.url}/api/usage`, { key: KEY_B })).body.total.jobs
    const job = await aimlJobShowingStrong(apiKey, true)
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
    expect(off.status).toBe(201)
    const jobs = (await api(`${server.url}/api/jobs?limit=2`, { key: KEY_B })).body.data
    const [offJob, onJob] = await Promise.all(jobs.map((j: any) => server.fluxhost.services.jobs.get(j.id, undefined)))
    expect(onJob!.request.safetyChecker).toBe(true)
    expect(offJob!.request.safetyChecker).toBe(false)

    // With the checker off, an output the classifier would black out comes back as it is.
    const apiKey = (await server.fluxhost.services.keys.authenticate(KEY_B))!
    const before = await classified()
    const job = await aimlJobShowingStrong(apiKey, false)
    const done = await server.waitForJob(job.id)
    expect(done.state).toBe('succeeded')
    expect(done.result?.nsfw).toBeUndefined()
    expect(done.result?.safetyMs).toBeUndefined()
    expect(await classified()).toBe(before)
  })
})

/** A preview render through the native API, as a lossless PNG, with its job. */
async function previewRender(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const created = await api(`${server.url}/api/jobs`, { body: { outputFormat: 'png', ...body }, headers })
  expect(created.status).toBe(202)
  const job = await server.waitForJob(created.body.id)
  const key = job.result?.images[0]?.key
  return { job, png: key ? (await server.fluxhost.blobs.read(key))! : Buffer.alloc(0) }
}

// Issue 13, item 16. bench/preview-moderation.ts found this render among 3,200: the classifier
// reads its palette as porn 0.70, at the default tolerance's threshold (0.70), so it came back
// Content Moderated though nothing in the request explains a refusal.
const MISREAD = { prompt: 'forest and silver a lighthouse at dusk olive', width: 640, height: 480, seed: 3285332898 }

describe("the preview engine's own renders", () => {
  it('are not classified, so the classifier cannot refuse one', async () => {
    const before = await classified()
    for (const safetyTolerance of [2, 0]) {
      const { job } = await previewRender({ ...MISREAD, safetyTolerance })
      expect(job.state, `at safety_tolerance ${safetyTolerance}`).toBe('succeeded')
      expect(job.engine).toBe('preview')
      expect(job.result?.safetyMs).toBeUndefined()
      expect((await api(`${server.url}/v1/get_result?id=${job.id}`)).body.status).toBe('Ready')
    }
    expect(await classified()).toBe(before)
  })

  it('are classified once they show an image prompt: the same pixels are refused at a strict tolerance', async () => {
    const { png } = await previewRender(MISREAD)
    const before = await classified()
    const job = await jobShowing(png, 1)
    expect(job.error).toMatchObject({
      code: 'CONTENT_MODERATED',
      message: expect.stringMatching(/explicit content \(porn \d+% ≥ 45% at safety_tolerance 1\)/),
    })
    expect(await classified()).toBe(before + 1)
  })

  it('X-Fluxhost-Simulate: content_moderated still ends the job Content Moderated, uncharged', async () => {
    const usage = (await api(`${server.url}/api/usage`)).body.total.jobs
    const before = await classified()
    const { job } = await previewRender(
      { prompt: 'a teal lighthouse at dusk', width: 256, height: 256, seed: 3 },
      { 'x-fluxhost-simulate': 'content_moderated' },
    )
    expect(job.state).toBe('failed')
    expect(job.error).toMatchObject({ code: 'CONTENT_MODERATED', message: expect.stringContaining('simulated') })
    expect((await api(`${server.url}/v1/get_result?id=${job.id}`)).body.status).toBe('Content Moderated')
    expect((await api(`${server.url}/api/usage`)).body.total.jobs).toBe(usage)
    expect(await classified()).toBe(before)
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
