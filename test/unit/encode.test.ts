import zlib from 'node:zlib'
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

  it("keeps a whole PNG as it is, and refuses one cut short or damaged (its chunks' CRCs)", async () => {
    const png = await make(64, 48, 'png')
    const asked = [
      { format: 'png', quality: 90 },
      { width: 64, height: 48 },
    ] as const
    const kept = await encodeImage({ kind: 'encoded', data: png }, ...asked)
    expect(kept.data).toBe(png)
    expect([kept.width, kept.height, kept.contentType]).toEqual([64, 48, 'image/png'])
    const cut = png.subarray(0, png.length - 12) // without its IEND chunk
    await expect(encodeImage({ kind: 'encoded', data: cut }, ...asked)).rejects.toThrow(/cut short/)
    const damaged = Buffer.from(png)
    const idat = damaged.indexOf('IDAT')
    damaged[idat + 6] = damaged[idat + 6]! ^ 0xff // a byte of the compressed pixels
    await expect(encodeImage({ kind: 'encoded', data: damaged }, ...asked)).rejects.toThrow(/IDAT chunk fails its CRC/)
    const badHeader = Buffer.from(png) // a bit depth of 3, its CRC made right: whole, but no PNG
    badHeader[24] = 3
    badHeader.writeUInt32BE(zlib.crc32(badHeader.subarray(12, 29)), 29)
    await expect(encodeImage({ kind: 'encoded', data: badHeader }, ...asked)).rejects.toThrow(/invalid header/)
    const wrongSize = await encodeImage({ kind: 'encoded', data: png }, asked[0], { width: 32, height: 24 })
    expect([wrongSize.width, wrongSize.height]).toEqual([32, 24])
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
