import { randomFillSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createUuidV7 } from '../../src/domain/uuid7.js'

describe('uuid v7', () => {
  it('is a valid version-7, variant-10 UUID carrying the time', () => {
    const id = createUuidV7(() => 0x0190_1234_5678, randomFillSync)()
    expect(id).toMatch(/^01901234-5678-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('increases strictly, within one millisecond and across many', () => {
    let ms = 1_800_000_000_000
    const next = createUuidV7(() => ms, randomFillSync)
    const ids: string[] = []
    for (let i = 0; i < 10_000; i++) {
      if (i % 3000 === 0) ms++
      ids.push(next())
    }
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('stays increasing when the clock steps back', () => {
    let ms = 1_800_000_000_000
    const next = createUuidV7(() => ms, randomFillSync)
    const a = next()
    ms -= 5_000
    expect(next() > a).toBe(true)
  })
})
