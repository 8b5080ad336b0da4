import { createBlackForestLabs } from '@ai-sdk/black-forest-labs'
import { generateImage } from 'ai'
import sharp from 'sharp'
import { afterEach, describe, expect, it } from 'vitest'
import { type ForwardingProxy, startForwardingProxy } from '../helpers/forwarding-proxy.js'
import { api, KEY_A, startTestServer, type TestServer } from '../helpers/server.js'

// fluxhost behind a TLS-terminating reverse proxy (docs/deploy.md): a real proxy in front of a
// real server, adding X-Forwarded-Proto and -Host as nginx and Caddy do. The URLs in answers
// follow them only when FLUXHOST_TRUST_PROXY believes the proxy.

// The SDK prints a warning when it derives aspect_ratio from size; not needed here.
;(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false

const PUBLIC = 'images.example.org'
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function behindProxy(
  env: Record<string, string>,
  forwarded: (proxyHost: string) => { proto: string; host: string } = () => ({ proto: 'https', host: PUBLIC }),
): Promise<{ server: TestServer; proxy: ForwardingProxy }> {
  const server = await startTestServer(env)
  cleanups.push(() => server.close())
  const proxy = await startForwardingProxy(server.url, forwarded)
  cleanups.push(() => proxy.close())
  return { server, proxy }
}

/** A BFL create through the proxy, run to the end: its polling URL and the URLs of its result. */
async function urlsThrough(proxy: ForwardingProxy, server: TestServer) {
  const created = await api(`${proxy.url}/v1/flux-pro-1.1`, { body: { prompt: 'proxied', width: 256, height: 256 } })
  expect(created.status).toBe(200)
  await server.waitForJob(created.body.id)
  const result = await api(`${proxy.url}/v1/get_result?id=${created.body.id}`)
  expect(result.body.status).toBe('Ready')
  const native = await api(`${proxy.url}/api/jobs/${created.body.id}`)
  return {
    id: created.body.id as string,
    pollingUrl: created.body.polling_url as string,
    sample: result.body.result.sample as string,
    image: native.body.result.images[0].url as string,
  }
}

describe('behind a proxy that FLUXHOST_TRUST_PROXY believes', () => {
  it.each([
    ['a hop count', '1'],
    ["the proxy's address", '127.0.0.1'],
    ['a list with a named range', '10.0.0.0/8, loopback'],
  ])('(%s: %s) polling and file URLs are https://<forwarded host>/…, and they work', async (_, trust) => {
    const { server, proxy } = await behindProxy({ FLUXHOST_TRUST_PROXY: trust })
    const urls = await urlsThrough(proxy, server)
    expect(urls.pollingUrl).toBe(`https://${PUBLIC}/v1/get_result?id=${urls.id}`)
    expect(urls.sample).toMatch(new RegExp(`^https://${PUBLIC.replaceAll('.', '\\.')}/files/jobs/`))
    expect(urls.image).toMatch(new RegExp(`^https://${PUBLIC.replaceAll('.', '\\.')}/files/jobs/`))
    // The same path, asked of the proxy (which the public name would reach), is the image.
    const image = await fetch(`${proxy.url}${new URL(urls.sample).pathname}${new URL(urls.sample).search}`)
    expect(image.status).toBe(200)
    expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).width).toBe(256)
  })

  it('ignores a forwarded scheme or host that is not one', async () => {
    const { server, proxy } = await behindProxy({ FLUXHOST_TRUST_PROXY: 'loopback' }, () => ({
      proto: 'javascript',
      host: 'evil.example/path',
    }))
    const created = await api(`${proxy.url}/v1/flux-pro-1.1`, { body: { prompt: 'x', width: 256, height: 256 } })
    expect(created.body.polling_url).toBe(`${server.url}/v1/get_result?id=${created.body.id}`)
  })
})

describe('behind a proxy that FLUXHOST_TRUST_PROXY does not believe', () => {
  it.each([
    ['unset', {}],
    ['an address list without the proxy', { FLUXHOST_TRUST_PROXY: '10.0.0.0/8, 192.0.2.7' }],
    ['false', { FLUXHOST_TRUST_PROXY: 'false' }],
  ])('(%s) the forwarded headers are ignored', async (_, env) => {
    const { server, proxy } = await behindProxy(env)
    const urls = await urlsThrough(proxy, server)
    // The Host the proxy sent (the upstream's, loopback: believed), never the forwarded one.
    expect(urls.pollingUrl).toBe(`${server.url}/v1/get_result?id=${urls.id}`)
    for (const url of [urls.sample, urls.image]) expect(url.startsWith(`${server.url}/files/`), url).toBe(true)
  })
})

describe("the AI SDK's Black Forest Labs provider through the proxy", () => {
  it('follows polling_url and the sample back through the proxy', async () => {
    // The proxy forwards its own address as the host: what a client reaches is what answers name.
    const { proxy } = await behindProxy({ FLUXHOST_TRUST_PROXY: 'loopback' }, (host) => ({ proto: 'http', host }))
    const bfl = createBlackForestLabs({ baseURL: `${proxy.url}/v1`, apiKey: KEY_A })
    const { image } = await generateImage({
      model: bfl.image('flux-pro-1.1'),
      prompt: 'a lighthouse at dusk',
      size: '512x384',
      seed: 5,
      providerOptions: { blackForestLabs: { pollIntervalMillis: 50 } },
    })
    expect(await sharp(image.uint8Array).metadata()).toMatchObject({ width: 512, height: 384 })
    const paths = proxy.seen.map(({ method, path }) => `${method} ${path.split('?')[0]}`)
    expect(paths[0]).toBe('POST /v1/flux-pro-1.1')
    expect(paths).toContain('GET /v1/get_result')
    expect(paths.at(-1)).toMatch(/^GET \/files\/jobs\//)
  })
})
