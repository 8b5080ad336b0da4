/**
 * Where a request for a path on the API, or for a URL from an answer (a polling or cancel URL),
 * goes. It carries the key, so only to the configured base or a host the provider documents
 * (`allowHost`, over https): a URL on any other host — the provider's public one when the base
 * is a proxy, or a hostile one — is sent to the base with its path, and one on the base's host
 * with another scheme as the base's. Undefined: not a URL.
 */
export function apiUrl(base: string, pathOrUrl: string, allowHost?: (host: string) => boolean): string | undefined {
  let target: URL
  let baseUrl: URL
  try {
    baseUrl = new URL(`${base}/`)
    target = /^https?:\/\//i.test(pathOrUrl) ? new URL(pathOrUrl) : new URL(`${base}${pathOrUrl}`)
  } catch {
    return undefined
  }
  if (target.host === baseUrl.host && target.protocol === baseUrl.protocol) return target.toString()
  if (target.host !== baseUrl.host && target.protocol === 'https:' && allowHost?.(target.host)) return target.toString()
  const basePath = baseUrl.pathname.replace(/\/+$/, '')
  const path = target.pathname.startsWith(`${basePath}/`) ? target.pathname.slice(basePath.length) : target.pathname
  return `${base}${path}${target.search}`
}
