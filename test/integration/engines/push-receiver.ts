import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ImageEngine } from '../../../src/engines/engine.js'
import { createPushKeys } from '../../../src/engines/push.js'
import { createLocalJobEvents } from '../../../src/queue/job-events.js'
import { createJobPush } from '../../../src/worker/push.js'

/** One call a provider made to a push URL: where, what exactly, and whether the engine verified it. */
export interface ReceivedCall {
  engine: string
  job: string
  task: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  verified: boolean
}

/**
 * What fluxhost's push route does, small enough to watch: it is the push URLs' host, checks a
 * call's path token, hands the raw call to the engine's verifyPush, and publishes the wake of
 * a verified one on the job events that `push(jobId)` listens to. Engines are registered in
 * `engines` by name; every call is kept in `calls`.
 */
export async function startPushReceiver() {
  const engines = new Map<string, ImageEngine>()
  const calls: ReceivedCall[] = []
  const events = createLocalJobEvents()
  let keys: ReturnType<typeof createPushKeys> | undefined
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    const [, api, hooks, name = '', job = '', taskText = '', token = ''] = (req.url ?? '').split('/')
    const task = Number(taskText)
    const engine = engines.get(name)
    if (api !== 'api' || hooks !== 'engine-hooks' || !engine?.verifyPush || !keys?.check(name, job, task, token))
      return res.writeHead(404).end()
    const verified = await engine.verifyPush({ headers: req.headers, body, secret: keys.secret(name, job, task) })
    calls.push({ engine: name, job, task, headers: req.headers, body, verified })
    if (!verified) return res.writeHead(401).end()
    events.publish({ type: 'upstream', jobId: job, engine: name, task })
    res.writeHead(204).end()
  }
  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const made = createPushKeys(Buffer.alloc(32, 9), url)
  keys = made
  return {
    url,
    keys: made,
    engines,
    calls,
    /** The running job's side, as the worker builds it. */
    push: (jobId: string) => createJobPush(made, events, jobId),
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export type PushReceiver = Awaited<ReturnType<typeof startPushReceiver>>
