// What every benchmark part shares: fluxhost servers as child processes of the built dist/,
// stopping them, JSON requests and percentiles. Parts report; none asserts.
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const KEY = 'bench-key'
export const PG_URL = process.env.FLUXHOST_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

const children = new Set<ChildProcess>()

/** Spawns `node <args>` in the repository and resolves once its stdout matches `ready`. */
export function spawnReady(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const match = ready.exec(out)
      if (!match) return
      child.stdout!.off('data', onData)
      child.stdout!.resume()
      resolve({ child, match })
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)))
  })
}

export function start(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  return spawnReady(args, env, /listening on (http:\/\/\S+)/).then(({ child, match }) => ({ child, url: match[1]! }))
}

/** `fluxhost serve` on an ephemeral port with the bench key. */
export function fluxhost(dataDir: string, extra: Record<string, string> = {}, flags: string[] = []) {
  return start(['bin/fluxhost.js', 'serve', ...flags], {
    FLUXHOST_DATA_DIR: dataDir,
    FLUXHOST_PORT: '0',
    FLUXHOST_API_KEYS: KEY,
    FLUXHOST_LOG_LEVEL: 'warn',
    ...extra,
  })
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map(stop))
}

export async function json(url: string, init: RequestInit = {}): Promise<any> {
  const response = await fetch(url, {
    ...init,
    headers: { 'x-key': KEY, 'content-type': 'application/json', ...(init.headers ?? {}) },
  })
  return response.json()
}

/** The p-th percentile (nearest rank), to one decimal. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10
}

export const round = (n: number) => Math.round(n * 100) / 100

/** Runs `sql` on the bench database in a client of its own. */
export async function pgQuery<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    return (await client.query(sql)).rows as T[]
  } finally {
    await client.end()
  }
}
