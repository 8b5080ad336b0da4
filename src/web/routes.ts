import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

/**
 * The folder of the web pages: next to this module when run from source, or under src/
 * when run from dist/ (the pages are plain HTML, CSS and JavaScript: nothing to build).
 */
export function webRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const candidates = [path.join(here, 'public'), path.resolve(here, '../../src/web/public')]
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html')))
  if (!found) throw new Error(`the web pages are missing (looked in ${candidates.join(', ')})`)
  return found
}

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
 * public API only, with the key the user enters (kept in the browser's localStorage).
 */
export const webRoutes: FastifyPluginAsync = async (app) => {
  const root = webRoot()
  await app.register(fastifyStatic, {
    root,
    prefix: '/web/',
    // Revalidated on every load (ETag), so a new version shows at once.
    cacheControl: true,
    maxAge: 0,
    setHeaders: (res) => {
      res.header('content-security-policy', CSP)
    },
  })
  const page = (file: string) => async (_request: FastifyRequest, reply: FastifyReply) =>
    reply
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      // Without this, @fastify/static's own `public, max-age=0` would replace our no-cache.
      .sendFile(file, { cacheControl: false })
  app.get('/', { schema: { hide: true } }, page('index.html'))
  app.get('/admin', { schema: { hide: true } }, page('admin.html'))
}
