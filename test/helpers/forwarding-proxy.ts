import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ForwardingProxy {
  /** Where clients reach the proxy: `http://127.0.0.1:<port>`. */
  url: string
  /** `host:port` of the proxy, as a client's Host header names it. */
  host: string
  /** Each request it forwarded, in order: method and path with query. */
  seen: { method: string; path: string }[]
  close(): Promise<void>
}

/**
 * A reverse proxy like the TLS terminator in front of a deployment (nginx's `proxy_pass`):
 * it sends each request on to `upstream` with `Host` set to the upstream's own host (nginx's
 * default), and adds the X-Forwarded-* headers it is told to, streaming bodies both ways.
 * `forwarded(proxyHost)` returns the headers to add; they replace any the client sent.
 */
export async function startForwardingProxy(
  upstream: string,
  forwarded: (proxyHost: string) => { proto: string; host: string },
): Promise<ForwardingProxy> {
  const target = new URL(upstream)
  const seen: ForwardingProxy['seen'] = []
  let proxyHost = ''
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? 'GET', path: req.url ?? '/' })
    const headers = { ...req.headers }
    for (const name of Object.keys(headers)) if (name.startsWith('x-forwarded-')) delete headers[name]
    const { proto, host } = forwarded(proxyHost)
    const outbound = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: {
          ...headers,
          host: target.host,
          'x-forwarded-proto': proto,
          'x-forwarded-host': host,
          'x-forwarded-for': req.socket.remoteAddress ?? '',
        },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    outbound.on('error', () => res.writeHead(502).end())
    req.pipe(outbound)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxyHost = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: `http://${proxyHost}`,
    host: proxyHost,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
