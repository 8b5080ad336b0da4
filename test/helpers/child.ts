import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const ENTRY = path.join(REPO, 'src/cli/run.ts')

export interface Child {
  process: ChildProcessWithoutNullStreams
  stdout(): string
  stderr(): string
  /** Resolves with the first match of `pattern` in stdout+stderr, as soon as it appears. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Runs the fluxhost CLI from source in a child process. */
export function spawnCli(args: string[], env: Record<string, string> = {}, cwd = REPO): Child {
  const child = spawn(
    process.execPath,
    ['--import', path.join(REPO, 'node_modules/tsx/dist/loader.mjs'), ENTRY, ...args],
    {
      cwd,
      // The output classifier (a TensorFlow.js thread) is off unless a test turns it on: the
      // tests of the classifier run it in-process (test/*/safety.test.ts).
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        FLUXHOST_LOG_LEVEL: 'info',
        FLUXHOST_SAFETY_CHECKER: '0',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  let out = ''
  let err = ''
  const waiters = new Set<() => void>()
  const onData = () => {
    for (const check of [...waiters]) check()
  }
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    onData()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString()
    onData()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      onData()
      resolve({ code, signal })
    }),
  )
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = (out + err).match(pattern)
          if (match) {
            waiters.delete(check)
            resolve(match)
          } else if (child.exitCode !== null || child.signalCode !== null) {
            waiters.delete(check)
            reject(new Error(`process exited before ${pattern}:\n${out}\n${err}`))
          }
        }
        waiters.add(check)
        check()
      })
    },
  }
}

/** Runs a CLI command to completion. */
export async function runCli(args: string[], env: Record<string, string> = {}, cwd = REPO) {
  const child = spawnCli(args, env, cwd)
  const { code } = await child.exited
  return { code, stdout: child.stdout(), stderr: child.stderr() }
}

/** Starts `fluxhost serve` on a free port and resolves once it listens. */
export async function startServe(env: Record<string, string>) {
  const child = spawnCli(['serve'], { FLUXHOST_PORT: '0', ...env })
  const [, url] = await child.waitFor(/listening on (http:\/\/\S+)/)
  return { child, url: url! }
}
