import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

/**
 * The folder of the built web pages (scripts/build-web.ts, run by `npm run build`):
 * FLUXHOST_WEB_ROOT where set (a build elsewhere: the tests of two checkouts side by side), else
 * dist/public, found from dist/web/ (the built server) or from src/web/ (run from source).
 */
export function webRoot(): string {
  if (process.env.FLUXHOST_WEB_ROOT) return path.resolve(process.env.FLUXHOST_WEB_ROOT)
  const here = path.dirname(fileURLToPath(import.meta.url))
  const candidates = [path.resolve(here, '../public'), path.resolve(here, '../../dist/public')]
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html')))
  if (!found) throw new Error(`the web pages are not built (looked in ${candidates.join(', ')}): run npm run build`)
  return found
}

/** The built assets carry their content's hash in their name: a file of a name never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable'

// The pages load nothing from elsewhere: no CDN, no fonts. Images may come from a bucket
// (FLUXHOST_FILE_DELIVERY=redirect), so any http(s) image source is allowed.
const CSP = [
  "default-src 'self'",
  "img-src 'self' data: blob: http: https:",
  "style-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ')

/**
 * The playground (`/`) and the admin pages (`/admin`): static files that talk to the
 * public API only, with the key the user enters (kept in the browser's localStorage). The
 * pages are revalidated at every load (ETag); the scripts and style sheets they name are
 * cached for good (their names change with their content).
 */
export const webRoutes: FastifyPluginAsync = async (app) => {
  const root = webRoot()
  await app.register(fastifyStatic, {
    root,
    prefix: '/web/',
    // Each file beside its brotli and gzip forms, chosen by Accept-Encoding (no compression per request).
    preCompressed: true,
    cacheControl: false,
    setHeaders: (res, file) => {
      res.header('content-security-policy', CSP)
      // The pages themselves (also reachable here) are revalidated, so a new version shows at once.
      res.header('cache-control', /\.html(\.br|\.gz)?$/.test(file) ? 'no-cache' : IMMUTABLE)
    },
  })
  const page = (file: string) => async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.header('content-security-policy', CSP).type('text/html; charset=utf-8').sendFile(file)
  app.get('/', { schema: { hide: true } }, page('index.html'))
  app.get('/admin', { schema: { hide: true } }, page('admin.html'))
}
