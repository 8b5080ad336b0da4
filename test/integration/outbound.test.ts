import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isBlockedAddress } from '../../src/net/address-policy.js'
import { createOutbound, FetchRefused } from '../../src/net/outbound.js'

let server: http.Server
let base: string
const hanging = new Set<http.ServerResponse>()
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/image')
      return res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from('png bytes'))
    if (url.pathname === '/redirect') return res.writeHead(302, { location: '/image' }).end()
    if (url.pathname === '/loop') return res.writeHead(302, { location: '/loop' }).end()
    if (url.pathname === '/to-metadata')
      return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end()
    if (url.pathname === '/big')
      return res.writeHead(200, { 'content-length': String(10_000) }).end(Buffer.alloc(10_000))
    if (url.pathname === '/big-chunked') {
      res.writeHead(200)
      for (let i = 0; i < 10; i++) res.write(Buffer.alloc(1_000))
      return res.end()
    }
    if (url.pathname === '/hang') return void hanging.add(res)
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  for (const res of hanging) res.destroy()
  await new Promise((resolve) => server.close(resolve))
})

const open = createOutbound({ allowPrivate: true, timeoutMs: 500, maxBytes: 5_000, maxRedirects: 3 })
const strict = createOutbound({ allowPrivate: false, timeoutMs: 500, maxBytes: 5_000, maxRedirects: 3 })

const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(FetchRefused)
  return (error as Error).message
}

describe('address policy', () => {
  it('blocks loopback, private, link-local, metadata and IPv4-embedding IPv6; allows public', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '::1',
      '::',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::7f00:1',
      '2002:7f00:1::',
    ]) {
      expect(isBlockedAddress(address), address).toBe(true)
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111'])
      expect(isBlockedAddress(address), address).toBe(false)
  })
})

describe('url fetcher', () => {
  it('fetches, following redirects', async () => {
    expect((await open.fetch(`${base}/redirect`)).data.toString()).toBe('png bytes')
  })

  it('refuses private addresses, by IP literal and by name, unless allowed', async () => {
    expect(await refusal(strict.fetch(`${base}/image`))).toMatch(/private or reserved.*FLUXHOST_ALLOW_PRIVATE_URLS/)
    expect(await refusal(strict.fetch(`${base.replace('127.0.0.1', 'localhost')}/image`))).toMatch(
      /resolves only to private or reserved addresses/,
    )
    expect(await refusal(strict.fetch('http://[::1]/x'))).toMatch(/private or reserved/)
  })

  it('checks every redirect hop: an allowed host cannot send the fetch to a blocked one', async () => {
    // A policy that lets this test's loopback server through but blocks link-local, so the
    // first hop is allowed and the redirect to the metadata address must be refused.
    const metadataBlocked = createOutbound({
      allowPrivate: false,
      timeoutMs: 500,
      maxBytes: 5_000,
      maxRedirects: 3,
      isBlocked: (address) => address.startsWith('169.254.'),
    })
    expect((await metadataBlocked.fetch(`${base}/image`)).data.toString()).toBe('png bytes')
    expect(await refusal(metadataBlocked.fetch(`${base}/to-metadata`))).toMatch(
      /169\.254\.169\.254 is a private or reserved address/,
    )
    await metadataBlocked.close()
  })

  it('refuses other schemes, bad URLs, redirect loops, errors, oversize and slow answers', async () => {
    expect(await refusal(open.fetch('file:///etc/passwd'))).toMatch(/only http and https/)
    expect(await refusal(open.fetch('not a url'))).toMatch(/not a valid URL/)
    expect(await refusal(open.fetch(`${base}/loop`))).toMatch(/more than 3 redirects/)
    expect(await refusal(open.fetch(`${base}/missing`))).toMatch(/HTTP 404/)
    expect(await refusal(open.fetch(`${base}/big`))).toMatch(/larger than/)
    expect(await refusal(open.fetch(`${base}/big-chunked`))).toMatch(/larger than/)
    expect(await refusal(open.fetch(`${base}/hang`))).toMatch(/within 0.5 s/)
  })
})
