import fs from 'node:fs'
import semver from 'semver'
import { describe, expect, it } from 'vitest'

const read = (file: string) => JSON.parse(fs.readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'))
const pkg = read('package.json') as { engines: { node: string } }
const lock = read('package-lock.json') as {
  packages: Record<string, { version?: string; dev?: boolean; optional?: boolean; engines?: { node?: string } }>
}

/**
 * Packages whose `engines` ask for a newer Node than fluxhost's floor, but run on it: they
 * use no API the floor lacks, and CI runs every test on Node 20 with them loaded.
 */
const RUN_BELOW_THEIR_STATED_FLOOR: Record<string, string> = {
  // light-my-request (Fastify's inject) → cookie: plain string parsing.
  'node_modules/cookie': '>=22',
  // @fastify/static → content-disposition: builds a header string.
  'node_modules/content-disposition': '>=22',
}

// package.json's `engines` states the real floor: the lowest Node every production
// dependency in the lockfile accepts (undici 7 needs 20.18.1).
describe('the Node version fluxhost states it needs', () => {
  const floor = semver.minVersion(pkg.engines.node)!

  it('is one that every production dependency accepts', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path, info]) => path !== '' && !info.dev && info.engines?.node)
      .filter(([path, info]) => RUN_BELOW_THEIR_STATED_FLOOR[path] !== info.engines!.node)
      .filter(([, info]) => !semver.satisfies(floor, info.engines!.node!))
      .map(([path, info]) => `${path}@${info.version} needs ${info.engines!.node}`)
    expect(refusing).toEqual([])
  })

  it('is the highest of their floors, not an older promise', () => {
    const highest = Object.entries(lock.packages)
      .filter(([path, info]) => path !== '' && !info.dev && info.engines?.node && !RUN_BELOW_THEIR_STATED_FLOOR[path])
      .map(([, info]) => semver.minVersion(info.engines!.node!))
      .filter((version) => version !== null)
      .reduce((max, version) => (semver.gt(version, max) ? version : max), semver.parse('0.0.0')!)
    expect(floor.version).toBe(highest.version)
  })

  it('is met by the Node running the tests', () => {
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true)
  })
})
