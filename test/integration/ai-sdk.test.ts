import { createBlackForestLabs } from '@ai-sdk/black-forest-labs'
import { createOpenAI } from '@ai-sdk/openai'
import { APICallError, generateImage } from 'ai'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Job } from '../../src/domain/job.js'
import { KEY_A, startTestServer, type TestServer } from '../helpers/server.js'

// Vercel's AI SDK (`ai` 6, generateImage) with its Black Forest Labs provider, pointed at
// fluxhost by its base URL and key alone, as a user of BFL's cloud would switch.

// The SDK prints each warning (it derives aspect_ratio from size); the tests read them from the result.
;(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false

let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ FLUXHOST_WORKER_CONCURRENCY: '4' })
})
afterAll(async () => {
  await server?.close()
})

/**
 * The provider as a user sets it up, with a `fetch` (the provider's own option) that notes the
 * id of each task it submits, so a test can look at the jobs the SDK made.
 */
function client(apiKey = KEY_A) {
  const ids: string[] = []
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const response = await globalThis.fetch(input, init)
    if (init?.method === 'POST' && response.ok) ids.push(((await response.clone().json()) as { id: string }).id)
    return response
  }
  const bfl = createBlackForestLabs({ baseURL: `${server.url}/v1`, apiKey, pollIntervalMillis: 50, fetch })
  return { bfl, ids, jobs: () => Promise.all(ids.map((id) => server.fluxhost.services.jobs.get(id, undefined))) }
}

const decode = (bytes: Uint8Array) => sharp(bytes).metadata()

/** What generateImage threw. */
async function failure(run: Promise<unknown>): Promise<Error> {
  const error = await run.then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  expect(error).toBeInstanceOf(Error)
  return error as Error
}

describe('generateImage with createBlackForestLabs({ baseURL: <fluxhost>/v1 })', () => {
  it('flux-pro-1.1 with size and seed: the image at that size, the seed used, the same bytes again', async () => {
    const { bfl, jobs } = client()
    const run = () =>
      generateImage({ model: bfl.image('flux-pro-1.1'), prompt: 'a red apple', size: '768x512', seed: 42 })
    const first = await run()
    expect(await decode(first.image.uint8Array)).toMatchObject({ format: 'jpeg', width: 768, height: 512 })
    expect(first.image.mediaType).toBe('image/jpeg')
    expect(first.providerMetadata).toMatchObject({
      blackForestLabs: { images: [{ seed: 42, cost: 4, outputMegapixels: 0.39 }] },
    })
    // The SDK says it also sent the size as aspect_ratio, which BFL's pro-1.1 ignores, as fluxhost does.
    expect(first.warnings).toContainEqual(expect.objectContaining({ type: 'unsupported', feature: 'size' }))
    const second = await run()
    expect(Buffer.from(second.image.uint8Array).equals(Buffer.from(first.image.uint8Array))).toBe(true)
    const [job] = await jobs()
    expect(job).toMatchObject({ model: 'flux-pro-1.1', state: 'succeeded' })
    expect(job!.request).toMatchObject({ width: 768, height: 512, seed: 42 })
  })

  it('flux-pro-1.1-ultra at several aspect ratios, raw: about 4 megapixels each, the ratio kept', async () => {
    const { bfl, jobs } = client()
    const ratios = [
      ['21:9', 3136, 1344],
      ['1:1', 2048, 2048],
      ['9:16', 1536, 2720],
    ] as const
    const results = await Promise.all(
      ratios.map(([aspectRatio]) =>
        generateImage({
          model: bfl.image('flux-pro-1.1-ultra'),
          prompt: 'a wide valley',
          aspectRatio,
          providerOptions: { blackForestLabs: { raw: true } },
        }),
      ),
    )
    for (const [i, [aspectRatio, width, height]] of ratios.entries()) {
      expect(await decode(results[i]!.image.uint8Array), aspectRatio).toMatchObject({ width, height })
      expect(results[i]!.providerMetadata).toMatchObject({ blackForestLabs: { images: [{ cost: 6 }] } })
    }
    const made = await jobs()
    expect(made.map((job) => [job.model, job.request.aspectRatio, job.request.raw]).sort()).toEqual(
      ratios.map(([ratio]) => ['flux-pro-1.1-ultra', ratio, true]).sort(),
    )
  })

  it('flux-dev with steps, guidance, width and height as provider options', async () => {
    const { bfl, jobs } = client()
    const { image, providerMetadata } = await generateImage({
      model: bfl.image('flux-dev'),
      prompt: 'a violin',
      providerOptions: { blackForestLabs: { steps: 12, guidance: 4.5, width: 512, height: 256 } },
    })
    expect(await decode(image.uint8Array)).toMatchObject({ width: 512, height: 256 })
    expect(providerMetadata).toMatchObject({ blackForestLabs: { images: [{ cost: 2.5 }] } })
    const [job] = await jobs()
    expect(job).toMatchObject({ model: 'flux-dev', request: { steps: 12, guidance: 4.5, width: 512, height: 256 } })
  })

  it('outputFormat png gives a PNG', async () => {
    const { bfl } = client()
    const { image } = await generateImage({
      model: bfl.image('flux-pro-1.1'),
      prompt: 'a blue square',
      size: '256x256',
      providerOptions: { blackForestLabs: { outputFormat: 'png' } },
    })
    expect(image.mediaType).toBe('image/png')
    expect(await decode(image.uint8Array)).toMatchObject({ format: 'png', width: 256, height: 256 })
  })

  it('n: 2 makes one task per image (the provider takes one image a call): two jobs, two images', async () => {
    const { bfl, ids, jobs } = client()
    const { images, providerMetadata } = await generateImage({
      model: bfl.image('flux-pro-1.1'),
      prompt: 'two of a kind',
      size: '256x256',
      n: 2,
    })
    expect(images).toHaveLength(2)
    expect(new Set(ids).size).toBe(2)
    for (const image of images) expect(await decode(image.uint8Array)).toMatchObject({ width: 256, height: 256 })
    // No seed given: each task drew its own, so the two images differ.
    expect(Buffer.from(images[0]!.uint8Array).equals(Buffer.from(images[1]!.uint8Array))).toBe(false)
    const seeds = (await jobs()).map((job: Job) => job.request.seed)
    expect(new Set(seeds).size).toBe(2)
    expect((providerMetadata.blackForestLabs as { images: unknown[] }).images).toHaveLength(2)
  })

  it('an image prompt (base64, or a data: URL) guides the image; ultra takes its strength', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#00c000' } })
      .png()
      .toBuffer()
    const { bfl, jobs } = client()
    const generate = (imagePrompt?: string) =>
      generateImage({
        model: bfl.image('flux-pro-1.1'),
        prompt: 'guided',
        size: '256x256',
        seed: 9,
        providerOptions: { blackForestLabs: imagePrompt === undefined ? {} : { imagePrompt } },
      })
    const plain = await generate()
    const guided = await generate(png.toString('base64'))
    const dataUrl = await generate(`data:image/png;base64,${png.toString('base64')}`)
    expect(guided.providerMetadata).toMatchObject({ blackForestLabs: { images: [{ inputMegapixels: 0.07 }] } })
    expect(Buffer.from(guided.image.uint8Array).equals(Buffer.from(plain.image.uint8Array))).toBe(false)
    expect(Buffer.from(dataUrl.image.uint8Array).equals(Buffer.from(guided.image.uint8Array))).toBe(true)
    const ultra = await generateImage({
      model: bfl.image('flux-pro-1.1-ultra'),
      prompt: 'guided',
      aspectRatio: '1:1',
      providerOptions: { blackForestLabs: { imagePrompt: png.toString('base64'), imagePromptStrength: 0.3 } },
    })
    expect(await decode(ultra.image.uint8Array)).toMatchObject({ width: 2048, height: 2048 })
    const strengths = (await jobs()).map((job) => job.request.imagePrompt?.strength ?? null)
    expect(strengths).toEqual([null, 0.5, 0.5, 0.3])
  })
})

describe("errors reach the SDK's caller as BFL's", () => {
  it("a wrong key: APICallError 401 with BFL's detail as the message, and no job", async () => {
    const { bfl, ids } = client('fh_not-a-key')
    const error = await failure(generateImage({ model: bfl.image('flux-pro-1.1'), prompt: 'x', size: '256x256' }))
    expect(APICallError.isInstance(error)).toBe(true)
    expect(error).toMatchObject({ statusCode: 401, message: 'Invalid or revoked API key.', isRetryable: false })
    expect(ids).toEqual([])
  })

  it('a bad field: APICallError 422 whose message names the field, and no job', async () => {
    const { bfl, ids } = client()
    const width = await failure(generateImage({ model: bfl.image('flux-pro-1.1'), prompt: 'x', size: '1000x768' }))
    expect(width).toMatchObject({ statusCode: 422, isRetryable: false })
    expect(width.message).toContain('"loc":["body","width"]')
    expect(width.message).toContain('multiple of 32')
    const ratio = await failure(
      generateImage({ model: bfl.image('flux-pro-1.1-ultra'), prompt: 'x', aspectRatio: '4:1' }),
    )
    expect(APICallError.isInstance(ratio)).toBe(true)
    expect(ratio.message).toContain('Aspect ratio should be between 21:9 and 9:21')
    expect(ids).toEqual([])
  })

  it('a job that fails: the SDK sees Error and throws; the job failed and was not charged', async () => {
    const { bfl, ids, jobs } = client()
    const error = await failure(
      generateImage({
        model: bfl.image('flux-pro-1.1'),
        prompt: 'x',
        size: '256x256',
        headers: { 'x-fluxhost-simulate': 'error' },
      }),
    )
    expect(error.message).toBe('Black Forest Labs generation failed.')
    const [job] = await jobs()
    expect(job).toMatchObject({ state: 'failed', error: { code: 'GENERATION_FAILED' } })
    expect(await server.fluxhost.store.charges.forJob(ids[0]!)).toBeUndefined()
  })

  it('rate limited: a retryable APICallError 429 carrying Retry-After', async () => {
    const { bfl, ids } = client()
    const error = await failure(
      generateImage({
        model: bfl.image('flux-pro-1.1'),
        prompt: 'x',
        size: '256x256',
        maxRetries: 0,
        headers: { 'x-fluxhost-simulate': 'rate_limited' },
      }),
    )
    expect(error).toMatchObject({ statusCode: 429, isRetryable: true })
    expect((error as APICallError).responseHeaders?.['retry-after']).toBe('2')
    expect(ids).toEqual([])
  })
})

describe("generateImage with @ai-sdk/openai's createOpenAI({ baseURL: <fluxhost>/v1 })", () => {
  /** The provider with a `fetch` that counts the SDK's tries. */
  function openai(url: string) {
    const tries: number[] = []
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init)
      tries.push(response.status)
      return response
    }
    return { provider: createOpenAI({ baseURL: `${url}/v1`, apiKey: KEY_A, fetch }), tries }
  }
  const jobsWith = async (on: TestServer, prompt: string) =>
    (await on.fluxhost.services.jobs.list(undefined, { limit: 100 })).jobs.filter(
      (job) => job.request.prompt === prompt,
    )

  it('OpenAI sizes, above 1440 too: the image at the nearest size of the same shape', async () => {
    const { provider } = openai(server.url)
    const { image } = await generateImage({
      model: provider.image('flux-pro/v1.1'),
      prompt: 'a lighthouse, by the OpenAI provider',
      size: '1536x1024',
    })
    expect(await decode(image.uint8Array)).toMatchObject({ width: 1440, height: 960 })
  })

  it('a 504 it retries (no retry mark, x-should-retry ignored): the retry waits for the one job', async () => {
    const short = await startTestServer({ FLUXHOST_SYNC_TIMEOUT_S: '1' })
    try {
      const { provider, tries } = openai(short.url)
      const prompt = 'a slow lighthouse, by the OpenAI provider'
      const { image } = await generateImage({
        model: provider.image('flux-pro/v1.1'),
        prompt,
        size: '256x256',
        headers: { 'x-fluxhost-simulate': 'slow=2500' },
      })
      expect(await decode(image.uint8Array)).toMatchObject({ width: 256, height: 256 })
      // Counted from the client's side: its first try was answered 504, a retry 201 (with the first job's image).
      expect(tries[0]).toBe(504)
      expect(tries.at(-1)).toBe(201)
      expect(await jobsWith(short, prompt)).toHaveLength(1)
    } finally {
      await short.close()
    }
  })
})
