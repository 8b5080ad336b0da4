import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CREATE_ROUTES } from '../helpers/routes.js'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'

// Bodies built to hurt: deep (a stack overflow in any recursive walk), wide (work and an
// error list that grow with the attack), long keys, oversized, and header-bound values
// that a header cannot carry. Every create route, with and without an Idempotency-Key:
// a 4xx in the route's own shape, never a 5xx, never an answer over 64 KB.
const MAX_ANSWER = 64 * 1024

let s: TestServer
beforeAll(async () => {
  s = await startTestServer()
})
afterAll(async () => {
  await s?.close()
})

let serial = 0
const send = (path: string, rawBody: string, idempotent: boolean) =>
  api(`${s.url}${path}`, {
    key: null,
    rawBody,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${KEY_A}`,
      'x-api-key': KEY_A,
      ...(idempotent ? { 'idempotency-key': `"hostile-${++serial}"` } : {}),
    },
  })

const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`
const wide = (keys: number) => `{${Array.from({ length: keys }, (_, i) => `"k${i}":0`).join(',')}}`

describe('hostile bodies on every create route', () => {
  it.each(CREATE_ROUTES)(
    '%s: a body nested 5,000 levels deep → 4xx naming the limit, with or without a key',
    async (path) => {
      for (const idempotent of [false, true]) {
        const answer = await send(path, deep(5000), idempotent)
        expect(answer.status, answer.text).toBeGreaterThanOrEqual(400)
        expect(answer.status).toBeLessThan(500)
        // The issue's type where the dialect's error shape has one; Apiframe's (`details`) has messages only.
        expect(answer.text).toMatch(path.startsWith('/v2/') ? /nested deeper/ : /json_too_deep/)
      }
    },
  )

  it.each(CREATE_ROUTES)('%s: 5,000 unknown fields → a bounded answer (≤ 31 issues, < 64 KB)', async (path) => {
    const answer = await send(path, wide(5000).replace('{', '{"prompt":5,'), true)
    expect(answer.status, answer.text.slice(0, 300)).toBeGreaterThanOrEqual(400)
    expect(answer.status).toBeLessThan(500)
    expect(answer.text.length).toBeLessThan(MAX_ANSWER)
  })

  it('the native API lists 30 issues and counts the rest', async () => {
    const answer = await send('/api/jobs', wide(5000).replace('{', '{"prompt":"p",'), false)
    expect(answer.status).toBe(422)
    const issues = answer.body.error.issues as any[]
    expect(issues).toHaveLength(31)
    expect(issues.at(-1), JSON.stringify(issues.at(-1))).toMatchObject({ type: 'too_many_errors', ctx: { more: 4970 } })
  })

  it('a 2,000,000-key body (25 MB) on the large-body route is refused before parsing', async () => {
    const answer = await send('/v1/flux-pro-1.1', wide(2_000_000), false)
    expect(answer.status).toBe(422)
    expect(answer.body.detail[0]).toMatchObject({ type: 'json_too_many_values' })
    expect((await api(`${s.url}/api/health`, { key: null })).status).toBe(200)
  })

  it('a 200 KB field name is clipped in the answer', async () => {
    const answer = await send('/api/jobs', `{"prompt":"p","${'x'.repeat(200_000)}":1}`, true)
    expect(answer.status).toBe(422)
    expect(answer.text.length).toBeLessThan(4096)
    expect(answer.body.error.issues[0].loc[1]).toMatch(/^x{100}…$/)
  })

  it('routes that take no inline image refuse a body over 256 KiB; BFL takes a large image_prompt', async () => {
    const big = JSON.stringify({ prompt: 'p', padding: 'x'.repeat(300 * 1024) })
    for (const path of ['/api/jobs', '/v2/images/generate', '/v1/images/generations']) {
      const answer = await send(path, big, false)
      expect(answer.status, path).toBe(413)
    }
    const image = JSON.stringify({ prompt: 'p', image_prompt: 'A'.repeat(1024 * 1024) })
    const answer = await send('/v1/flux-pro-1.1', image, false)
    expect(answer.status).not.toBe(413)
    expect(answer.status).toBeLessThan(500)
  })

  it('a webhook_secret that a header cannot carry is refused at the door, naming the field', async () => {
    for (const secret of ['a\r\nX-Injected: 1', 'tab\there', ' leading', 'nul\u0000', 'é']) {
      const answer = await send(
        '/v1/flux-pro-1.1',
        JSON.stringify({ prompt: 'p', webhook_url: 'https://example.com/hook', webhook_secret: secret }),
        false,
      )
      expect(answer.status, JSON.stringify(secret)).toBe(422)
      expect(answer.body.detail[0].loc).toEqual(['body', 'webhook_secret'])
    }
    const fine = await send(
      '/v1/flux-pro-1.1',
      JSON.stringify({ prompt: 'p', webhook_url: 'https://example.com/hook', webhook_secret: 's3cr3t with space' }),
      false,
    )
    expect(fine.body.detail?.[0]?.loc ?? []).not.toEqual(['body', 'webhook_secret'])
  })
})
