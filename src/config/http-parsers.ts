// Parsers of the settings that say whom the HTTP server believes and answers: the proxy in
// front (FLUXHOST_TRUST_PROXY) and the browser origins CORS lets in (FLUXHOST_CORS_ORIGINS).
import net from 'node:net'
import { list } from './parsers.js'

/**
 * Which peers may tell us the client's scheme, host and address (X-Forwarded-*), as Fastify's
 * `trustProxy` takes it: false (none), true (any), a hop count (the nearest n hops, whoever
 * they are), or addresses and CIDR ranges (and proxy-addr's names `loopback`, `linklocal`,
 * `uniquelocal`).
 */
export type TrustProxy = boolean | number | readonly string[]

/** proxy-addr's named ranges, which Fastify's `trustProxy` also takes. */
export const NAMED_RANGES = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
} as const

const MAX_ENTRIES = 100

/** One entry of an address list: an address, a CIDR range, or a named range; or why not. */
function addressProblem(entry: string): string | null {
  if (Object.hasOwn(NAMED_RANGES, entry)) return null
  const [address = '', prefix, ...rest] = entry.split('/')
  const family = net.isIP(address)
  if (family === 0 || rest.length > 0) return `'${entry}' is not an IP address or a CIDR range like 10.0.0.0/8`
  if (prefix === undefined) return null
  const bits = family === 4 ? 32 : 128
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits)
    return `'${entry}' has a bad prefix length: it must be 0 to ${bits}`
  return null
}

/** FLUXHOST_TRUST_PROXY: true/false, a hop count, or a comma list of addresses and CIDR ranges. */
export function trustProxy(raw: string): TrustProxy {
  const value = raw.trim().toLowerCase()
  if (['', 'false', 'no', 'off', '0'].includes(value)) return false
  if (['true', 'yes', 'on'].includes(value)) return true
  if (/^\d+$/.test(value)) {
    const hops = Number(value)
    if (hops > 32) throw new Error(`as a hop count must be between 1 and 32, got ${value}`)
    return hops
  }
  const entries = list(value)
  if (entries.length > MAX_ENTRIES) throw new Error(`lists more than ${MAX_ENTRIES} addresses`)
  const problems = entries.map(addressProblem).filter((problem) => problem !== null)
  if (problems.length > 0)
    throw new Error(
      `must be true, false, a hop count, or a comma list of proxy addresses and CIDR ranges: ${problems.join('; ')}`,
    )
  return entries
}

/** The origins CORS lets in: any (`*`), or exactly these (as browsers spell an Origin header). */
export type CorsOrigins = '*' | readonly string[]

/** One entry of FLUXHOST_CORS_ORIGINS as a browser would send it, or an error naming it. */
function origin(entry: string): string {
  let url: URL
  try {
    url = new URL(entry)
  } catch {
    throw new Error(`'${entry}' is not an origin like https://app.example.com`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`'${entry}' is not an http or https origin`)
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash || entry.endsWith('?'))
    throw new Error(`'${entry}' is not an origin: scheme, host and port only, e.g. https://app.example.com:8443`)
  if (url.hostname.includes('*')) throw new Error(`'${entry}': wildcards are not supported; list each origin, or *`)
  return url.origin
}

/** FLUXHOST_CORS_ORIGINS: `*`, or a comma list of origins; empty: CORS off (null). */
export function corsOrigins(raw: string): CorsOrigins | null {
  const entries = list(raw)
  if (entries.length === 0) return null
  if (entries.includes('*')) {
    if (entries.length > 1) throw new Error('must be * alone, or a list of origins without *')
    return '*'
  }
  if (entries.length > MAX_ENTRIES) throw new Error(`lists more than ${MAX_ENTRIES} origins`)
  return [...new Set(entries.map(origin))]
}
