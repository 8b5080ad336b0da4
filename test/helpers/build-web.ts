import { buildWeb } from '../../scripts/build-web.js'

/** Global setup: the web pages as the sources are now (the tests serve dist/public, as the built server does). */
export default async function setup() {
  await buildWeb()
}
