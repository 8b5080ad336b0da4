import net from 'node:net'
import type { FastifyRequest } from 'fastify'
import type { UrlSigner } from '../blobs/url-signer.js'
import { NAMED_RANGES, type TrustProxy } from '../config/http-parsers.js'

/** Builds the absolute URLs a response carries. */
export interface UrlContext {
  base: string
  fileUrl(key: string): string
}

export function urlsFor(base: string, signer: UrlSigner): UrlContext {
  return {
    base,
    fileUrl(key) {
      const { exp, sig } = signer.sign(key)
      return `${base}/files/${key}?exp=${exp}&sig=${sig}`
    },
  }
}

/** Whether the peer at `address`, `hop` hops from us (0: the one connected), may speak for the client. */
export type ProxyTrust = (address: string, hop: number) => boolean

/** Whose word builds the URLs in answers when FLUXHOST_PUBLIC_URL is not set. */
export interface OriginPolicy {
  /** false: no proxy is believed. */
  trustProxy: false | ProxyTrust
  allowedHosts: readonly string[]
}

declare module 'fastify' {
  interface FastifyInstance {
    originPolicy: OriginPolicy
  }
}

/**
 * FLUXHOST_TRUST_PROXY as one function, given both to Fastify (for `request.ip`, `.protocol`,
 * `.host`) and to `baseUrl`, so the two cannot disagree. Fastify's own reading of a hop count
 * believes no X-Forwarded-Host/-Proto at all; here a hop count believes the peer that connects,
 * as the count says there is always a proxy there.
 */
export function proxyTrust(setting: TrustProxy): false | ProxyTrust {
  if (setting === false) return false
  if (setting === true) return () => true
  if (typeof setting === 'number') return (_address, hop) => hop < setting
  const ranges = new net.BlockList()
  for (const entry of setting.flatMap((name) => NAMED_RANGES[name as keyof typeof NAMED_RANGES] ?? [name])) {
    const [address = '', prefix] = entry.split('/')
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4'
    if (prefix === undefined) ranges.addAddress(address, family)
    else ranges.addSubnet(address, Number(prefix), family)
  }
  // IPv4-mapped IPv6 peers (::ffff:10.0.0.5) match IPv4 ranges too (BlockList's own rule).
  return (address) => ranges.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4')
}

/** `localhost` and loopback addresses, with any port: a link to them points at the caller's own machine. */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/
/** A host name or address, with an optional port: what may follow `https://` in a URL we hand out. */
const HOST = /^(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::\d{1,5})?$/i

/**
 * The base URL clients reach us at, by a rule a forged `Host` cannot bend (it would land in
 * polling URLs, webhook bodies and file links): FLUXHOST_PUBLIC_URL if set; else, when the peer
 * is a proxy FLUXHOST_TRUST_PROXY believes, the scheme and host it forwards (X-Forwarded-Proto
 * and -Host, else its Host); else the Host header if FLUXHOST_ALLOWED_HOSTS lists it (or it
 * names loopback: `localhost:8080`); else the address the client connected to.
 */
export function baseUrl(request: FastifyRequest, publicUrl: string | null): string {
  if (publicUrl) return publicUrl
  const policy = request.server.originPolicy
  const peer = request.raw.socket?.remoteAddress
  if (policy.trustProxy && peer !== undefined && policy.trustProxy(peer, 0)) {
    // Fastify's request.protocol and .host follow X-Forwarded-* from this same trust.
    const { protocol, host } = request
    if ((protocol === 'http' || protocol === 'https') && HOST.test(host)) return `${protocol}://${host}`
  }
  const scheme = (request.raw.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http'
  const host = (request.headers.host ?? '').toLowerCase()
  if (policy.allowedHosts.includes(host) || LOOPBACK_HOST.test(host)) return `${scheme}://${host}`
  const { localAddress, localPort } = request.socket
  const address = localAddress?.startsWith('::ffff:') ? localAddress.slice(7) : (localAddress ?? '127.0.0.1')
  return `${scheme}://${net.isIPv6(address) ? `[${address}]` : address}:${localPort ?? 80}`
}

/** URLs for a response: from FLUXHOST_PUBLIC_URL, else from the request by `baseUrl`'s rule. */
export function urlContext(request: FastifyRequest, publicUrl: string | null, signer: UrlSigner): UrlContext {
  return urlsFor(baseUrl(request, publicUrl), signer)
}
