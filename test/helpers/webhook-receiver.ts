import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  headers: http.IncomingHttpHeaders
  /** The raw body, as signed. */
  body: string
  at: number
}

/** What the receiver answers to its n-th request (0-based); `hang` never answers. */
export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang'

/** A real HTTP server that records webhook POSTs and answers as told. */
export async function startReceiver(answer: (n: number, received: Received) => Answer = () => ({ status: 200 })) {
  const requests: Received[] = []
  const waiters = new Set<() => void>()
  const hanging = new Set<http.ServerResponse>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const received: Received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() }
      const n = requests.length
      requests.push(received)
      const reply = answer(n, received)
      if (reply === 'hang') hanging.add(res)
      else res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers }).end(reply.body ?? 'ok')
      for (const wake of [...waiters]) wake()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    /** Resolves once `count` requests have arrived. */
    received(count: number): Promise<Received[]> {
      return new Promise((resolve) => {
        const check = () => {
          if (requests.length < count) return
          waiters.delete(check)
          resolve(requests.slice(0, count))
        }
        waiters.add(check)
        check()
      })
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
