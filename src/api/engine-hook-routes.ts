import type { ApiDeps } from './deps.js'
import type { RoutesPlugin } from './schema-types.js'

/**
 * A provider's callback body is a status object, but Replicate's is the whole prediction,
 * its input's image prompt (a data URI) included. Only a call whose path token checks is
 * read at all (the token is checked before the body), so the limit costs nothing to others.
 */
const MAX_HOOK_BYTES = 32 * 1024 * 1024
/**
 * A task's calls wake its engine at most once per this long: a replayed call (BFL's secret
 * has no timestamp) cannot drive polls of the account; a later attempt's own call still wakes.
 */
const WAKE_GAP_MS = 5_000
const SEEN_MAX = 10_000

interface HookParams {
  engine: string
  job: string
  task: string
  token: string
}

/**
 * `POST /api/engine-hooks/:engine/:job/:task/:token`: where BFL, fal and Replicate call when a
 * task ends (FLUXHOST_PROVIDER_WEBHOOKS). The path's token proves fluxhost made the URL; the
 * engine then checks the call by its provider's scheme (BFL's echoed secret, fal's ED25519,
 * Replicate's Standard Webhooks). A verified call only wakes the job's engine to read the
 * result at once; the body is never trusted for the result. Without a key: providers call it.
 */
export const engineHookRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const push = deps.enginePush
  if (!push) return
  const seen = new Map<string, number>()
  // The signature covers the exact bytes: kept raw, whatever the content type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_HOOK_BYTES }, (_request, body, done) =>
    done(null, body),
  )
  const taskOf = (params: HookParams) => ({ name: params.engine, job: params.job, task: Number(params.task) })
  app.post<{ Params: HookParams }>(
    '/api/engine-hooks/:engine/:job/:task/:token',
    {
      schema: {
        hide: true,
        params: {
          type: 'object',
          required: ['engine', 'job', 'task', 'token'],
          properties: {
            engine: { type: 'string', maxLength: 40 },
            job: { type: 'string', maxLength: 64 },
            task: { type: 'string', pattern: '^[0-9]{1,3}$' },
            token: { type: 'string', maxLength: 64 },
          },
        },
      },
      // Before the body is read: a call on a URL fluxhost did not make costs one HMAC.
      onRequest: async (request, reply) => {
        const params = request.params as HookParams
        const { name, job, task } = taskOf(params)
        const engine = push.engines.get(name)
        // Unknown engine and wrong token look alike: a guesser learns nothing.
        if (!engine?.verifyPush || !/^[0-9]{1,3}$/.test(params.task) || !push.keys.check(name, job, task, params.token))
          return reply.code(404).send({ error: 'not found' })
      },
    },
    async (request, reply) => {
      const { name, job, task } = taskOf(request.params)
      const engine = push.engines.get(name)!
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      const verified = await engine.verifyPush!({
        headers: request.headers,
        body,
        secret: push.keys.secret(name, job, task),
      }).catch(() => false)
      if (!verified) {
        request.log.warn({ engine: name, jobId: job, task }, 'engine-hook:unverified')
        return reply.code(401).send({ error: `the call does not carry ${name}'s signature` })
      }
      const id = `${name}\n${job}\n${task}`
      const now = deps.clock.now()
      const last = seen.get(id)
      if (last === undefined || now - last >= WAKE_GAP_MS) {
        seen.delete(id)
        if (seen.size >= SEEN_MAX) seen.delete(seen.keys().next().value!)
        seen.set(id, now)
        push.events.publish({ type: 'upstream', jobId: job, engine: name, task })
      }
      return reply.code(204).send()
    },
  )
}
