import type { ApiDeps } from './deps.js'
import type { RoutesPlugin } from './schema-types.js'

/** A provider's callback body is a status object of a few KiB; anything larger is not one. */
const MAX_HOOK_BYTES = 1024 * 1024

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
  // The signature covers the exact bytes: kept raw, whatever the content type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_HOOK_BYTES }, (_request, body, done) =>
    done(null, body),
  )
  app.post<{ Params: { engine: string; job: string; task: string; token: string } }>(
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
    },
    async (request, reply) => {
      const { engine: name, job, token } = request.params
      const task = Number(request.params.task)
      const engine = push.engines.get(name)
      // Unknown engine and wrong token look alike: a guesser learns nothing.
      if (!engine?.verifyPush || !push.keys.check(name, job, task, token))
        return reply.code(404).send({ error: 'not found' })
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      const verified = await engine
        .verifyPush({ headers: request.headers, body, secret: push.keys.secret(name, job, task) })
        .catch(() => false)
      if (!verified) {
        request.log.warn({ engine: name, jobId: job, task }, 'engine-hook:unverified')
        return reply.code(401).send({ error: `the call does not carry ${name}'s signature` })
      }
      push.events.publish({ type: 'upstream', jobId: job, engine: name, task })
      return reply.code(204).send()
    },
  )
}
