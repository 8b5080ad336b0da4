import { isValidKey } from '../blobs/blob-store.js'
import { blobKeys } from '../blobs/keys.js'
import { Thumbnails } from '../blobs/thumbnails.js'
import { FluxhostError } from '../domain/errors.js'
import type { ApiDeps } from './deps.js'
import type { RoutesPlugin } from './schema-types.js'

/**
 * `GET /files/<key>?exp=&sig=`: stored images behind signed, expiring URLs. The signature
 * is the credential, so these URLs work in an <img> tag or a plain download. A key ending in
 * `.thumb.webp` is its image's thumbnail, made on the first request (see blobs/thumbnails.ts).
 */
export const fileRoutes: RoutesPlugin<ApiDeps> = async (app, deps) => {
  const { signer, blobs } = deps
  const thumbnails = new Thumbnails(blobs)
  app.get(
    '/files/*',
    {
      schema: {
        tags: ['Files'],
        summary: 'Download a generated image (signed URL from a job)',
        params: { type: 'object', required: ['*'], properties: { '*': { type: 'string' } } },
        querystring: { type: 'object', properties: { exp: { type: 'string' }, sig: { type: 'string' } } },
      },
    },
    async (request, reply) => {
      const key = request.params['*']
      if (!isValidKey(key)) throw new FluxhostError('FILE_NOT_FOUND')
      const verdict = signer.verify(key, request.query.exp, request.query.sig)
      if (verdict === 'invalid') throw new FluxhostError('FILE_SIGNATURE_INVALID')
      if (verdict === 'expired') throw new FluxhostError('FILE_URL_EXPIRED')
      // A missing thumbnail is made here, once; a stored one costs nothing more than an image.
      const made = async () => blobKeys.thumbnailSource(key) !== undefined && (await thumbnails.ensure(key))
      const maxAge = Math.max(0, Number(request.query.exp) - Math.floor(deps.clock.now() / 1000))
      if (deps.presign) {
        // The bytes come from the bucket: the client follows at once, so the presigned URL
        // lives five minutes at most (never longer than ours), not as long as ours.
        if (!(await blobs.stat(key)) && !(await made())) throw new FluxhostError('FILE_NOT_FOUND')
        return reply
          .header('cache-control', 'private, no-store')
          .redirect(await deps.presign(key, Math.max(1, Math.min(300, maxAge))), 302)
      }
      const file = (await blobs.stream(key)) ?? ((await made()) ? await blobs.stream(key) : undefined)
      if (!file) throw new FluxhostError('FILE_NOT_FOUND')
      return reply
        .header('content-type', file.info.contentType)
        .header('content-length', String(file.info.size))
        .header('cache-control', `private, max-age=${maxAge}, immutable`)
        .header('x-content-type-options', 'nosniff')
        .send(file.body)
    },
  )
}
