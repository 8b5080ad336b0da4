import { randomBytes } from 'node:crypto'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(() => server.close())

const solid = (width: number, height: number, format: 'png' | 'gif' | 'webp' | 'tiff' | 'jpeg') =>
  sharp({ create: { width, height, channels: 3, background: { r: 250, g: 20, b: 20 } } })
    .toFormat(format)
    .toBuffer()
const bfl = (image: Buffer | string) =>
  api(`${server.url}/v1/flux-pro-1.1`, {
    body: {
      prompt: 'guided',
      width: 256,
      height: 256,
      image_prompt: typeof image === 'string' ? image : image.toString('base64'),
    },
  })

describe('image prompts', () => {
  it('accepts jpeg, png, webp and gif', async () => {
    for (const format of ['jpeg', 'png', 'webp', 'gif'] as const) {
      const response = await bfl(await solid(300, 200, format))
      expect(response.status, format).toBe(200)
      expect(response.body.input_mp).toBe(0.07)
    }
  })

  it('refuses other types, corrupt files, too many pixels and too many bytes, naming the field', async () => {
    const png = await solid(64, 64, 'png')
    const cases: [string, Buffer | string, RegExp][] = [
      ['tiff', await solid(64, 64, 'tiff'), /unsupported image format 'tiff'/],
      [
        'svg',
        Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'),
        /unsupported image format 'svg'/,
      ],
      ['truncated png', png.subarray(0, 60), /Invalid image/],
      ['4100 px wide', await solid(4100, 8, 'png'), /at most 4096 px a side/],
      ['21 MB', randomBytes(21 * 1024 * 1024), /larger than 20 MB/],
    ]
    for (const [name, image, reason] of cases) {
      const response = await bfl(image)
      expect(response.status, name).toBe(422)
      expect(response.body.detail[0], name).toMatchObject({
        loc: ['body', 'image_prompt'],
        msg: expect.stringMatching(reason),
      })
    }
    expect(
      (await api(`${server.url}/api/jobs`)).body.data.filter((j: any) => j.request.prompt === 'guided').length,
    ).toBe(4)
  })

  it('the preview engine follows the image more closely as the strength rises', async () => {
    const guide = await solid(256, 256, 'png')
    const redness = async (strength: number) => {
      const created = await api(`${server.url}/api/jobs`, {
        body: {
          prompt: 'a teal sea at night',
          width: 256,
          height: 256,
          seed: 4,
          outputFormat: 'png',
          imagePrompt: { data: guide.toString('base64'), strength },
        },
      })
      const job = await server.waitForJob(created.body.id)
      const stats = await sharp((await server.fluxhost.blobs.read(job.result!.images[0]!.key))!).stats()
      return stats.channels[0]!.mean - stats.channels[2]!.mean
    }
    const [none, some, more] = [await redness(0), await redness(0.35), await redness(0.75)]
    expect(some).toBeGreaterThan(none + 20)
    expect(more).toBeGreaterThan(some + 20)
  })
})
