import path from 'node:path'
import { buildWeb } from '../../scripts/build-web.js'

/** Global setup: the web pages as the sources are now (the tests serve dist/public, as the built server does). */
// FLUXHOST_WEB_ROOT builds them elsewhere (and the server serves them from there): test runs side
// by side in one checkout do not replace each other's pages.
export default async function setup() {
  await buildWeb(process.env.FLUXHOST_WEB_ROOT ? path.resolve(process.env.FLUXHOST_WEB_ROOT) : undefined)
}
