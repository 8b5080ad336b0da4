// Set up for the `unit` project: a unit test uses no network, no child process and no
// database server, so each of those fails at once here instead of slowing the suite down.
// (SQLite files, worker threads and Fastify's app.inject() are fine: none is a socket.)
import childProcess from 'node:child_process'
import dns from 'node:dns'
import { syncBuiltinESMExports } from 'node:module'
import net from 'node:net'

const refuse = (what: string) => () => {
  throw new Error(`test/unit must not ${what}: move the test to test/integration (or test/e2e)`)
}
net.Socket.prototype.connect = refuse('open network connections') as never
net.Server.prototype.listen = refuse('listen on a port') as never
for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
  ;(childProcess as unknown as Record<string, unknown>)[name] = refuse('start child processes')
}
// Name lookups go out over UDP (or to a resolver process): no test of a unit needs one.
for (const name of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny'] as const) {
  ;(dns as unknown as Record<string, unknown>)[name] = refuse('look up names')
  ;(dns.promises as unknown as Record<string, unknown>)[name] = refuse('look up names')
}
// ESM imports of node:child_process read their own bindings: bring them in line.
syncBuiltinESMExports()
