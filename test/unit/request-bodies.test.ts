import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../src/api/fingerprint.js'
import { breachOf } from '../../src/api/json-limits.js'
import { decodeBase64Field } from '../../src/api/request-input.js'

describe('breachOf: the shape of a JSON text, before it is parsed', () => {
  it('finds the first limit a text breaks, and ignores what is inside strings', () => {
    expect(breachOf('{"a":[1,2,3],"b":{"c":"d"}}')).toBeUndefined()
    expect(breachOf(`${'['.repeat(33)}${']'.repeat(33)}`)).toEqual({ limit: 'depth', at: 32 })
    expect(breachOf(`[${'0,'.repeat(10_000)}0]`)).toMatchObject({ limit: 'values' })
    // Brackets, commas and escaped quotes inside strings are text, not structure.
    expect(breachOf(JSON.stringify({ s: `${'[{,'.repeat(50_000)}\\"]` }))).toBeUndefined()
    expect(breachOf(JSON.stringify(['\\', '"', '\\"', '['.repeat(40)]))).toBeUndefined()
  })
})

describe('canonicalJson', () => {
  it('sorts keys at every level, so key order does not change the text', () => {
    const a = canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: null } })
    const b = canonicalJson({ a: { c: null, d: [3, { x: 2, y: 1 }] }, b: 1 })
    expect(a).toBe(b)
    expect(a).toBe('{"a":{"c":null,"d":[3,{"x":2,"y":1}]},"b":1}')
  })

  it('does not recurse: 200,000 levels are written without a stack overflow', () => {
    let deep: unknown = 1
    for (let i = 0; i < 200_000; i++) deep = [deep]
    expect(canonicalJson(deep)).toHaveLength(400_001)
  })

  it('sets long strings apart, with a mark no JSON text can hold', () => {
    const long = 'A'.repeat(70_000)
    const apart: string[] = []
    expect(canonicalJson({ image: long, prompt: 'p' }, apart)).toBe('{"image":\u00010\u0001,"prompt":"p"}')
    expect(apart).toEqual([long])
    expect(canonicalJson({ image: '\u0001' })).toBe('{"image":"\\u0001"}')
  })
})

describe('decodeBase64Field', () => {
  const loc = ['body', 'image_prompt']
  const bytes = Buffer.from('any bytes at all, of any length?!')
  it('decodes plain, padded, URL-safe, data-URL and wrapped base64 alike', () => {
    for (const text of [
      bytes.toString('base64'),
      bytes.toString('base64url'),
      `data:image/png;base64,${bytes.toString('base64')}`,
      bytes.toString('base64').replace(/(.{8})/g, '$1\n'),
    ]) {
      expect(decodeBase64Field(text, loc).equals(bytes), text).toBe(true)
    }
  })

  it('refuses text that is not base64, naming the field', () => {
    for (const text of ['', 'not base64!', `${bytes.toString('base64').slice(0, 8)}*${bytes.toString('base64')}`]) {
      expect(() => decodeBase64Field(text, loc), text).toThrow(/base64-encoded image/)
    }
  })
})
