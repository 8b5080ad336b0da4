/**
 * UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits, so ids sort by
 * creation time. Within one millisecond the 12-bit `rand_a` field counts up (RFC 9562
 * §6.2 method 1), so ids made by one process are strictly increasing.
 *
 * Randomness comes from `fill` in blocks: one call per 256 ids instead of one per id.
 */
export function createUuidV7(now: () => number, fill: (buffer: Uint8Array) => void): () => string {
  const pool = new Uint8Array(16 * 256)
  let offset = pool.length
  let lastMs = -1
  let counter = 0
  const hex: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

  return () => {
    if (offset === pool.length) {
      fill(pool)
      offset = 0
    }
    const random = pool.subarray(offset, offset + 16)
    offset += 16
    let ms = now()
    if (ms <= lastMs) {
      counter++
      if (counter > 0xfff) {
        // 4096 ids in one millisecond: borrow the next millisecond rather than repeat.
        lastMs++
        counter = 0
      }
      ms = lastMs
    } else {
      lastMs = ms
      counter = random[6]! & 0x07 // start low, leaving room to count up
    }
    const b = new Uint8Array(16)
    b[0] = Math.floor(ms / 2 ** 40) & 0xff
    b[1] = Math.floor(ms / 2 ** 32) & 0xff
    b[2] = (ms >>> 24) & 0xff
    b[3] = (ms >>> 16) & 0xff
    b[4] = (ms >>> 8) & 0xff
    b[5] = ms & 0xff
    b[6] = 0x70 | ((counter >>> 8) & 0x0f)
    b[7] = counter & 0xff
    b[8] = 0x80 | (random[8]! & 0x3f)
    for (let i = 9; i < 16; i++) b[i] = random[i]!
    let out = ''
    for (let i = 0; i < 16; i++) {
      out += hex[b[i]!]
      if (i === 3 || i === 5 || i === 7 || i === 9) out += '-'
    }
    return out
  }
}
