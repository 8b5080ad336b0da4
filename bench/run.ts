// npm run bench: fluxhost's HTTP and end-to-end throughput, side by side with a bare
// Fastify route in the same run. Servers run as child processes (built dist/), the load
// generator here. Prints a table and writes bench/results.json. Reports, never asserts.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const DURATION = Number(process.env.BENCH_DURATION ?? 8)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const E2E_JOBS = Number(process.env.BENCH_E2E_JOBS ?? 200)
const KEY = 'bench-key'
const children: ChildProcess[] = []

function start(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match) {
        child.stdout!.removeAllListeners('data')
        child.stdout!.resume()
        resolve({ child, url: match[1]! })
      }
    })
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)))
  })
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

function fluxhost(dataDir: string, extra: Record<string, string> = {}, flags: string[] = []) {
  return start(['bin/fluxhost.js', 'serve', ...flags], {
    FLUXHOST_DATA_DIR: dataDir,
    FLUXHOST_PORT: '0',
    FLUXHOST_API_KEYS: KEY,
    FLUXHOST_LOG_LEVEL: 'warn',
    ...extra,
  })
}

interface Load {
  rps: number
  p50: number
  p99: number
  non2xx: number
  errors: number
}

async function load(opts: autocannon.Options): Promise<Load> {
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION, ...opts })
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  }
}

const createBody = JSON.stringify({ prompt: 'a red apple on a white table', width: 1024, height: 768, seed: 42 })
const post = (url: string, headers: Record<string, string> = {}) =>
  load({ url: `${url}/v1/flux-pro-1.1`, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: createBody })

async function json(url: string, init: RequestInit = {}): Promise<any> {
  const response = await fetch(url, { ...init, headers: { 'x-key': KEY, 'content-type': 'application/json', ...(init.headers ?? {}) } })
  return response.json()
}

async function readyJob(url: string): Promise<string> {
  const { id } = await json(`${url}/v1/flux-pro-1.1`, { method: 'POST', body: JSON.stringify({ prompt: 'bench', width: 256, height: 256 }) })
  for (;;) {
    const result = await json(`${url}/v1/get_result?id=${id}`)
    if (result.status === 'Ready') return id
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function endToEnd(url: string, jobs: number): Promise<{ jobsPerS: number; seconds: number }> {
  const before = (await json(`${url}/api/usage`)).total.jobs as number
  const started = performance.now()
  const body = JSON.stringify({ prompt: 'end to end', width: 256, height: 256 })
  await Promise.all(Array.from({ length: jobs }, () => json(`${url}/v1/flux-pro-1.1`, { method: 'POST', body })))
  for (;;) {
    const done = ((await json(`${url}/api/usage`)).total.jobs as number) - before
    if (done >= jobs) break
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  const seconds = (performance.now() - started) / 1000
  return { jobsPerS: Math.round((jobs / seconds) * 10) / 10, seconds: Math.round(seconds * 100) / 100 }
}

async function main() {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxhost-bench-'))
  const results: Record<string, unknown> = {
    machine: `${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`,
    duration_s: DURATION,
    connections: CONNECTIONS,
  }
  try {
    const bare = await start(['--import', 'tsx', 'bench/bare-server.ts'], {})
    const api = await fluxhost(path.join(scratch, 'api'), {}, ['--no-worker'])
    const apiInfo = await fluxhost(path.join(scratch, 'api-info'), { FLUXHOST_LOG_LEVEL: 'info' }, ['--no-worker'])
    const full = await fluxhost(path.join(scratch, 'full'), { FLUXHOST_WORKER_CONCURRENCY: '2' })
    const readyId = await readyJob(full.url)

    // Warm-up so JIT and SQLite caches are in the same state for every contender.
    for (const url of [bare.url, api.url, apiInfo.url]) await load({ url: `${url}/v1/flux-pro-1.1`, method: 'POST', headers: { 'content-type': 'application/json', 'x-key': KEY }, body: createBody, duration: 2 })

    const bareCreate = await post(bare.url)
    const create = await post(api.url, { 'x-key': KEY })
    const createInfo = await post(apiInfo.url, { 'x-key': KEY })
    const bareGet = await load({ url: `${bare.url}/v1/get_result?id=${readyId}` })
    const get = await load({ url: `${full.url}/v1/get_result?id=${readyId}`, headers: { 'x-key': KEY } })
    const e2e = await endToEnd(full.url, E2E_JOBS)

    results.create = { bare: bareCreate, fluxhost: create, fluxhostInfoLogs: createInfo, ratio: round(create.rps / bareCreate.rps), ratioInfoLogs: round(createInfo.rps / bareCreate.rps) }
    results.get_result = { bare: bareGet, fluxhost: get, ratio: round(get.rps / bareGet.rps) }
    results.end_to_end = { jobs: E2E_JOBS, size: '256x256 jpeg', workerConcurrency: 2, ...e2e }

    const row = (name: string, l: Load, ratio?: number) =>
      `${name.padEnd(40)} ${String(l.rps).padStart(7)} req/s  p50 ${String(l.p50).padStart(3)} ms  p99 ${String(l.p99).padStart(4)} ms${ratio === undefined ? '' : `  ratio ${ratio}`}${l.non2xx || l.errors ? `  (${l.non2xx} non-2xx, ${l.errors} errors)` : ''}`
    console.log(`\nfluxhost benchmark — ${results.machine}; ${CONNECTIONS} connections, ${DURATION} s each\n`)
    console.log(row('bare Fastify POST (same schema)', bareCreate))
    console.log(row('POST /v1/flux-pro-1.1 (log warn)', create, round(create.rps / bareCreate.rps)))
    console.log(row('POST /v1/flux-pro-1.1 (log info)', createInfo, round(createInfo.rps / bareCreate.rps)))
    console.log(row('bare Fastify GET (same body)', bareGet))
    console.log(row('GET /v1/get_result (Ready job)', get, round(get.rps / bareGet.rps)))
    console.log(`end to end, preview 256x256, ${E2E_JOBS} jobs: ${e2e.jobsPerS} jobs/s (${e2e.seconds} s)\n`)
    fs.writeFileSync(path.join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`)
  } finally {
    await Promise.all(children.map(stop))
    fs.rmSync(scratch, { recursive: true, force: true })
  }
}

const round = (n: number) => Math.round(n * 100) / 100

await main()
