import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { encodeImage } from '../../src/images/encode.js'

const make = (width: number, height: number, format: 'jpeg' | 'png') =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } })
    .toFormat(format)
    .toBuffer()

describe('encodeImage', () => {
  it("keeps a provider's file byte for byte when it is whole, in the asked format and at the asked size", async () => {
    const jpeg = await make(320, 240, 'jpeg')
    const out = await encodeImage(
      { kind: 'encoded', data: jpeg },
      { format: 'jpeg', quality: 90 },
      { width: 320, height: 240 },
    )
    expect(out.data).toBe(jpeg)
    expect([out.width, out.height, out.contentType]).toEqual([320, 240, 'image/jpeg'])
  })

  it('refuses a truncated file instead of storing it', async () => {
    const jpeg = await make(320, 240, 'jpeg')
    const cut = jpeg.subarray(0, Math.floor(jpeg.length * 0.6))
    await expect(
      encodeImage({ kind: 'encoded', data: cut }, { format: 'jpeg', quality: 90 }, { width: 320, height: 240 }),
    ).rejects.toThrow()
  })

  it('scales a file of another size to the asked one, and converts another format', async () => {
    const png = await make(330, 240, 'png')
    const sized = await encodeImage(
      { kind: 'encoded', data: png },
      { format: 'png', quality: 90 },
      { width: 320, height: 240 },
    )
    expect([sized.width, sized.height]).toEqual([320, 240])
    expect((await sharp(sized.data).metadata()).width).toBe(320)
    const webp = await encodeImage(
      { kind: 'encoded', data: png },
      { format: 'webp', quality: 80 },
      { width: 330, height: 240 },
    )
    expect((await sharp(webp.data).metadata()).format).toBe('webp')
  })
})
