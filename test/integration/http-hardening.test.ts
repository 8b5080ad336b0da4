import http from 'node:http'
import net from 'node:net'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { LOG_REDACT_PATHS } from '../../src/observability/redact.js'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'

const servers: TestServer[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
})
async function serve(env: Record<string, string> = {}, options: Parameters<typeof startTestServer>[1] = {}) {
  const server = await startTestServer(env, options)
  servers.push(server)
  return server
}

/** A request with headers fetch would not let us forge (Host), over a plain socket. */
function raw(url: string, path: string, headers: Record<string, string>, body?: string) {
  const { hostname, port } = new URL(url)
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const request = http.request({ host: hostname, port, path, method: body ? 'POST' : 'GET', headers }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }))
    })
    request.on('error', reject)
    request.end(body)
  })
}

describe('answers carry URLs a forged Host cannot bend', () => {
  const create = (s: TestServer, headers: Record<string, string>) =>
    raw(
      s.url,
      '/v1/flux-pro-1.1',
      { 'content-type': 'application/json', 'x-key': KEY_A, ...headers },
      JSON.stringify({ prompt: 'host', width: 256, height: 256 }),
    ).then((answer) => JSON.parse(answer.body).polling_url as string)

  it('an unknown Host gets the listening address; a listed one and loopback names are believed', async () => {
    const s = await serve({ FLUXHOST_ALLOWED_HOSTS: 'api.example.com' })
    const port = new URL(s.url).port
    expect(await create(s, { host: 'evil.example' })).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/`))
    expect(await create(s, { host: 'api.example.com' })).toMatch(/^http:\/\/api\.example\.com\//)
    expect(await create(s, { host: `localhost:${port}` })).toMatch(new RegExp(`^http://localhost:${port}/`))
    // X-Forwarded-* is not believed without FLUXHOST_TRUST_PROXY.
    const forwarded = await create(s, { host: 'evil.example', 'x-forwarded-host': 'evil.example' })
    expect(forwarded).not.toContain('evil')
  })

  it('behind a trusted proxy, X-Forwarded-Proto and -Host build the URLs', async () => {
    const s = await serve({ FLUXHOST_TRUST_PROXY: '1' })
    const url = await create(s, { 'x-forwarded-host': 'images.example.org', 'x-forwarded-proto': 'https' })
    expect(url).toMatch(/^https:\/\/images\.example\.org\//)
  })
})

describe('pages and metrics', () => {
  it('every HTML page has a CSP that refuses framing, nosniff, and the pages are revalidated', async () => {
    const s = await serve()
    for (const path of ['/', '/admin', '/docs/']) {
      const response = await fetch(`${s.url}${path}`)
      await response.arrayBuffer()
      expect(response.status, path).toBe(200)
      expect(response.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'")
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff')
      if (path !== '/docs/') expect(response.headers.get('cache-control'), path).toBe('no-cache')
    }
  })

  it('/metrics needs the bearer token when FLUXHOST_METRICS_TOKEN is set', async () => {
    const s = await serve({ FLUXHOST_METRICS_TOKEN: 'metrics-secret' })
    expect((await api(`${s.url}/metrics`, { key: null })).status).toBe(401)
    const wrong = await api(`${s.url}/metrics`, { key: null, headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('www-authenticate')).toContain('Bearer')
    const right = await api(`${s.url}/metrics`, { key: null, headers: { authorization: 'Bearer metrics-secret' } })
    expect(right.status).toBe(200)
    expect(right.text).toContain('http_request_duration_seconds')
  })
})

describe('slow clients', () => {
  it('a client trickling its declared body after a 401 loses the socket at FLUXHOST_REQUEST_TIMEOUT', async () => {
    const s = await serve({ FLUXHOST_REQUEST_TIMEOUT: '2s', FLUXHOST_HEADERS_TIMEOUT: '1s' })
    const { hostname, port } = new URL(s.url)
    const socket = net.connect(Number(port), hostname)
    socket.on('error', () => undefined) // a write racing the server's close: EPIPE is the expected end
    let received = ''
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString()
    })
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    socket.write(
      'POST /api/jobs HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{',
    )
    // The client's part: one byte every 100 ms, for as long as the server listens.
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write(' ')
    }, 100)
    const started = performance.now()
    await closed
    clearInterval(trickle)
    expect(received).toMatch(/^HTTP\/1\.1 (401|408)/)
    // Closed by the server's limit, not by the 100 KB the client declared (that would take 10,000 s).
    expect(performance.now() - started).toBeLessThan(30_000)
  })

  it('a client that never finishes its headers is cut off', async () => {
    const s = await serve({ FLUXHOST_HEADERS_TIMEOUT: '1s', FLUXHOST_REQUEST_TIMEOUT: '2s' })
    const { hostname, port } = new URL(s.url)
    const socket = net.connect(Number(port), hostname)
    socket.on('error', () => undefined) // a write racing the server's close: EPIPE is the expected end
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\n')
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write('x-slow: 1\r\n')
    }, 100)
    await closed
    clearInterval(trickle)
  })
})

describe('logs keep secrets', () => {
  it('a server log after creates, file fetches and webhook secrets holds no sig, key or secret', async () => {
    let log = ''
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        log += chunk.toString()
        done()
      },
    })
    const logger = pino({ level: 'trace', redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } }, sink)
    const s = await serve({}, { logger })
    const created = await api(`${s.url}/api/jobs`, { body: { prompt: 'log me', width: 256, height: 256 } })
    const job = await s.waitForJob(created.body.id)
    const file = (job.result as any).images[0].key as string
    const done = await api(`${s.url}/api/jobs/${created.body.id}`)
    const imageUrl = done.body.result.images[0].url as string
    expect(imageUrl).toContain('sig=')
    expect((await fetch(imageUrl)).status).toBe(200)
    const secret = (await api(`${s.url}/api/webhook-secret`)).body.secret as string
    await api(`${s.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'p', webhook_url: 'https://example.com/h', webhook_secret: 'bfl-secret-value' },
    })
    await api(`${s.url}/files/${file}?exp=1&sig=forged-signature-value&key=${KEY_A}`)
    expect(log).toContain('"request"')
    const sig = new URL(imageUrl).searchParams.get('sig')!
    for (const needle of [sig, 'forged-signature-value', KEY_A, secret, 'bfl-secret-value']) {
      expect(log.includes(needle), `log holds ${needle.slice(0, 12)}…`).toBe(false)
    }
  })
})
