import type { FastifyReply, FastifyRequest } from 'fastify'
import { isTerminal, type Job } from '../../domain/job.js'
import type { KeyEvent } from '../../services/key-events.js'
import { keyFromHeaders, keyOf } from '../auth.js'
import type { ApiDeps } from '../deps.js'
import type { RoutesPlugin } from '../schema-types.js'
import { urlContext } from '../urls.js'
import { renderJob } from './render.js'
import { jobIdParams } from './schemas.js'

const KEEPALIVE_MS = 15_000

/** The head of a server-sent event stream, with what the hooks set (nosniff, CORS): a hijacked reply drops it. */
const streamHeaders = (request: FastifyRequest, reply: FastifyReply) => ({
  ...(reply.getHeaders() as Record<string, string | number | string[]>),
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
  'x-request-id': request.id,
})
// Events of a job run by another process (the CLI beside a server) are found by re-reading.
const REREAD_MS = 1_000
// A follower that reads slower than its jobs change is let go (it reconnects and resumes).
const MAX_BUFFERED = 1024 * 1024
/** What a client asks to resume after: the Last-Event-ID header, or `?lastEventId=` (a page's own reconnect). */
const keyEventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { lastEventId: { type: 'string', maxLength: 40 } },
} as const

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
      res.writeHead(200, streamHeaders(request, reply))

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
      res.on('close', close)
      // (The client may have left while the job was read.)
      if (request.raw.destroyed || res.destroyed) return close()
      sendJob(first)
    },
  )
}

/**
 * `GET /api/events`: every change of the key's jobs as server-sent events, for pages that show
 * many jobs. `job` carries the whole job (with an `id` to resume after), `progress` carries
 * `{id, progress}`, `deleted` carries `{id}` of a job deleted, `ready` (with the id to resume
 * from) ends what a (re)connection replays, and `reset` says the changes since `Last-Event-ID`
 * are not all known here (the server restarted, or it was away too long): read the jobs again.
 * Ends when the key is revoked.
 */
export const keyEventRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { services, config, signer } = deps
  const open = new Set<() => void>()
  app.addHook('preClose', async () => {
    for (const close of [...open]) close()
  })

  app.get(
    '/api/events',
    {
      schema: {
        tags: ['Jobs'],
        security: [{ bearer: [] }, { apiKey: [] }],
        summary: "Follow every change of the key's jobs as server-sent events",
        querystring: keyEventsQuery,
        produces: ['text/event-stream'],
      },
    },
    async (request, reply) => {
      const apiKey = keyOf(request)
      const header = request.headers['last-event-id']
      const lastEventId = (typeof header === 'string' ? header.slice(0, 40) : undefined) ?? request.query.lastEventId
      const urls = urlContext(request, config.publicUrl, signer)
      let closed = false
      const res = reply.raw
      const write = (text: string) => {
        if (closed) return
        res.write(text)
        if (res.writableLength > MAX_BUFFERED) close()
      }
      // A deleted job is said gone, by its id alone (what it was is scrubbed).
      const send = (event: KeyEvent) =>
        event.type === 'job' && event.job.deletedAt
          ? write(`event: deleted\nid: ${event.id}\ndata: ${JSON.stringify({ id: event.job.id })}\n\n`)
          : event.type === 'job'
            ? write(`event: job\nid: ${event.id}\ndata: ${JSON.stringify(renderJob(event.job, urls))}\n\n`)
            : write(`event: progress\ndata: ${JSON.stringify({ id: event.jobId, progress: event.progress })}\n\n`)
      // Refused here (too many streams) before anything is written: an error in the API's shape.
      const following = services.keyEvents.follow(apiKey.id, lastEventId, send)
      // The end of the stream, by whichever comes first: the client leaving (before this handler
      // ran, too: it may have left while its key was checked), a slow reader, a revoked key, shutdown.
      let keepalive: NodeJS.Timeout | undefined
      function close() {
        if (closed) return
        closed = true
        following.stop()
        clearInterval(keepalive)
        open.delete(close)
        res.end()
      }
      reply.hijack()
      open.add(close)
      res.on('close', close)
      if (request.raw.destroyed || res.destroyed) return close()
      res.writeHead(200, streamHeaders(request, reply))
      write('retry: 2000\n\n')
      if (following.missed === 'reset') write(`event: reset\ndata: ${JSON.stringify({ lastEventId })}\n\n`)
      else for (const event of following.missed) send(event)
      write(`event: ready\nid: ${following.since}\ndata: {}\n\n`)
      // Every keep-alive also asks whether the key still works: a revoked key's stream ends.
      keepalive = setInterval(() => {
        write(': keep-alive\n\n')
        services.keys.authenticate(keyFromHeaders(request.headers)).then(
          (still) => still || close(),
          () => undefined,
        )
      }, KEEPALIVE_MS)
    },
  )
}
