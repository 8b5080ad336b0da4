import net from 'node:net'
import type { FastifyRequest } from 'fastify'
import type { UrlSigner } from '../blobs/url-signer.js'

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

/** Whose word builds the URLs in answers when FLUXHOST_PUBLIC_URL is not set. */
export interface OriginPolicy {
  trustProxy: boolean
  allowedHosts: readonly string[]
}

declare module 'fastify' {
  interface FastifyInstance {
    originPolicy: OriginPolicy
  }
}

/** `localhost` and loopback addresses, with any port: a link to them points at the caller's own machine. */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/

/**
 * The base URL clients reach us at, by a rule a forged `Host` cannot bend (it would land in
 * polling URLs, webhook bodies and file links): FLUXHOST_PUBLIC_URL if set; else, with
 * FLUXHOST_TRUST_PROXY, the proxy's X-Forwarded-Proto/-Host (Fastify's `trustProxy`); else
 * the Host header if FLUXHOST_ALLOWED_HOSTS lists it (or it names loopback: `localhost:8080`); else
 * the address the client connected to.
 */
export function baseUrl(request: FastifyRequest, publicUrl: string | null): string {
  if (publicUrl) return publicUrl
  const policy = request.server.originPolicy
  if (policy.trustProxy) return `${request.protocol}://${request.host}`
  const host = request.host.toLowerCase()
  if (policy.allowedHosts.includes(host) || LOOPBACK_HOST.test(host)) return `${request.protocol}://${request.host}`
  const { localAddress, localPort } = request.socket
  const address = localAddress?.startsWith('::ffff:') ? localAddress.slice(7) : (localAddress ?? '127.0.0.1')
  return `${request.protocol}://${net.isIPv6(address) ? `[${address}]` : address}:${localPort ?? 80}`
}

/** URLs for a response: from FLUXHOST_PUBLIC_URL, else from the request by `baseUrl`'s rule. */
export function urlContext(request: FastifyRequest, publicUrl: string | null, signer: UrlSigner): UrlContext {
  return urlsFor(baseUrl(request, publicUrl), signer)
}
