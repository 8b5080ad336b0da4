import { isTerminal, type Job } from '../../domain/job.js'
import { keyOf } from '../auth.js'
import type { ApiDeps } from '../deps.js'
import type { RoutesPlugin } from '../schema-types.js'
import { urlContext } from '../urls.js'
import { renderJob } from './render.js'
import { jobIdParams } from './schemas.js'

const KEEPALIVE_MS = 15_000
// Events of a job run by another process (the CLI beside a server) are found by re-reading.
const REREAD_MS = 1_000

/**
 * `GET /api/jobs/:id/events`: server-sent events. `state` carries the whole job (first the
 * current one, then on each change), `progress` carries `{id, progress}`; the stream ends
 * after the terminal `state`.
 */
export const eventRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer } = deps
  const open = new Set<() => void>()
  // Streams never end by themselves; close them so shutdown does not wait on clients.
  app.addHook('preClose', async () => {
    for (const close of [...open]) close()
  })

  app.get(
    '/api/jobs/:id/events',
    {
      schema: {
        tags: ['Jobs'],
        security: [{ bearer: [] }, { apiKey: [] }],
        summary: 'Follow a job as server-sent events (state and progress)',
        params: jobIdParams,
        produces: ['text/event-stream'],
      },
    },
    async (request, reply) => {
      const id = request.params.id
      const first = await services.jobs.get(id, keyOf(request))
      const urls = urlContext(request, config.publicUrl, signer)
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        // What the hooks set (nosniff, CORS headers), which a hijacked reply would otherwise drop.
        ...(reply.getHeaders() as Record<string, string | number | string[]>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      })

      let closed = false
      let lastState = ''
      let lastProgress = -1
      let chain = Promise.resolve()
      const write = (event: string, data: unknown) => {
        if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
      }
      const sendJob = (job: Job) => {
        if (job.state !== lastState) {
          lastState = job.state
          lastProgress = job.progress
          write('state', renderJob(job, urls))
        } else if (job.progress > lastProgress) {
          lastProgress = job.progress
          write('progress', { id, progress: job.progress })
        }
        if (isTerminal(job.state)) close()
      }
      const refresh = () => {
        chain = chain
          .then(async () => {
            if (!closed) sendJob(await services.jobs.get(id, keyOf(request)))
          })
          .catch((error: unknown) => {
            request.log.warn({ err: error }, 'events: could not read job')
            close()
          })
      }
      const unsubscribe = services.jobs.subscribe(id, (event) => {
        if (event.type === 'progress' && lastState === 'running' && event.progress > lastProgress) {
          lastProgress = event.progress
          write('progress', { id, progress: event.progress })
        } else if (event.type === 'state') {
          refresh()
        }
      })
      const keepalive = setInterval(() => !closed && res.write(': keep-alive\n\n'), KEEPALIVE_MS)
      const reread = setInterval(refresh, REREAD_MS)
      function close() {
        if (closed) return
        closed = true
        unsubscribe()
        clearInterval(keepalive)
        clearInterval(reread)
        open.delete(close)
        res.end()
      }
      open.add(close)
      request.raw.on('close', close)
      sendJob(first)
    },
  )
}
