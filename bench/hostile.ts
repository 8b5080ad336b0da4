// Hostile traffic (issue 13): /api/health latency while hostile bodies (deep, wide, large)
// arrive at 10 per second, and create throughput, for one or more trees of fluxhost side by
// side (e.g. the commit before the limits and this one), interleaved so machine noise hits
// both alike. Each tree must be built (`npm run build`). Reports; asserts nothing.
//
//   BENCH_TREES=/tmp/before,. node --import tsx bench/hostile.ts
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import { KEY, percentile, ROOT, stop } from './lib.js'

const TREES = (process.env.BENCH_TREES ?? ROOT).split(',').map((tree) => path.resolve(tree))
const HOSTILE_S = Number(process.env.BENCH_HOSTILE_S ?? 20)
const CREATE_S = Number(process.env.BENCH_CREATE_S ?? 10)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)

function serve(tree: string): Promise<{ child: ChildProcess; url: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxhost-bench-hostile-'))
  const child = spawn(process.execPath, ['bin/fluxhost.js', 'serve', '--no-worker'], {
    cwd: tree,
    env: {
      ...process.env,
      FLUXHOST_DATA_DIR: dataDir,
      FLUXHOST_PORT: '0',
      FLUXHOST_API_KEYS: KEY,
      FLUXHOST_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match) resolve({ child, url: match[1]! })
    })
    child.once('exit', (code) => reject(new Error(`serve in ${tree} exited with ${code}: ${out}`)))
  })
}

const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`
const wideSmall = `{"prompt":"p",${Array.from({ length: 5000 }, (_, i) => `"k${i}":0`).join(',')}}`
const wideLarge = `{${Array.from({ length: 2_000_000 }, (_, i) => `"${(i % 1000).toString(36)}${i}":0`).join(',')}}`
const large = JSON.stringify({ prompt: 'p', image_prompt: 'A'.repeat(25 * 1024 * 1024) })
const HOSTILE: { name: string; path: string; body: string }[] = [
  { name: 'deep 5,000 levels + key', path: '/v1/flux-pro-1.1', body: deep },
  { name: 'wide 5,000 fields', path: '/api/jobs', body: wideSmall },
  { name: 'wide 2M keys (25 MB)', path: '/v1/flux-pro-1.1', body: wideLarge },
  { name: 'large 25 MB image_prompt', path: '/v1/flux-pro-1.1', body: large },
]

/** Health probes every 50 ms while hostile bodies go out at 10/s; latencies in ms, and the hostile answers. */
async function underAttack(url: string) {
  const latencies: number[] = []
  const statuses = new Map<string, number>()
  const end = performance.now() + HOSTILE_S * 1000
  const probe = async () => {
    while (performance.now() < end) {
      const started = performance.now()
      await (await fetch(`${url}/api/health`)).arrayBuffer()
      latencies.push(performance.now() - started)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const attack = async () => {
    const sent: Promise<void>[] = []
    for (let n = 0; performance.now() < end; n++) {
      const hostile = HOSTILE[n % HOSTILE.length]!
      sent.push(
        fetch(`${url}${hostile.path}`, {
          method: 'POST',
          headers: { 'x-key': KEY, 'content-type': 'application/json', 'idempotency-key': `"h-${n}-${Date.now()}"` },
          body: hostile.body,
        })
          .then(async (response) => {
            const text = await response.text()
            const key = `${hostile.name} → ${response.status} (${text.length} B)`
            statuses.set(key, (statuses.get(key) ?? 0) + 1)
          })
          .catch((error: Error) => {
            const key = `${hostile.name} → ${error.message}`
            statuses.set(key, (statuses.get(key) ?? 0) + 1)
          }),
      )
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await Promise.all(sent)
  }
  await Promise.all([probe(), attack()])
  return { latencies, statuses }
}

/** The server's CPU time so far (user + system), in ms, from /proc: less noisy than throughput. */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime + stime, in clock ticks of 10 ms
}

/** Creates/s with 10 connections for CREATE_S seconds, and the server's CPU ms per 1,000 creates. */
async function creates(url: string, pid: number): Promise<{ perS: number; cpuPer1000: number }> {
  const before = cpuMs(pid)
  const result = await autocannon({
    url: `${url}/v1/flux-pro-1.1`,
    method: 'POST',
    connections: 10,
    duration: CREATE_S,
    headers: { 'x-key': KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a red apple on a table', width: 512, height: 512 }),
  })
  const cpu = cpuMs(pid) - before
  return { perS: result.requests.average, cpuPer1000: Math.round((cpu / result.requests.total) * 1000) }
}

const results = new Map<string, { p50: number[]; p99: number[]; max: number[]; creates: number[]; cpu: number[] }>()
for (let round = 0; round < ROUNDS; round++) {
  for (const tree of TREES) {
    const entry = results.get(tree) ?? { p50: [], p99: [], max: [], creates: [], cpu: [] }
    results.set(tree, entry)
    const server = await serve(tree)
    const load = await creates(server.url, server.child.pid!)
    entry.creates.push(load.perS)
    entry.cpu.push(load.cpuPer1000)
    if (HOSTILE_S > 0) {
      const { latencies, statuses } = await underAttack(server.url)
      entry.p50.push(percentile(latencies, 50))
      entry.p99.push(percentile(latencies, 99))
      entry.max.push(Math.round(Math.max(...latencies)))
      console.log(`round ${round + 1}, ${tree}: ${latencies.length} health probes`)
      for (const [answer, count] of statuses) console.log(`  ${count} × ${answer}`)
    }
    await stop(server.child)
  }
}
console.log(
  '\n| tree | /api/health p50 ms | p99 ms | max ms | creates/s (10 connections, no worker) | CPU ms / 1,000 creates |',
)
console.log('| --- | --- | --- | --- | --- | --- |')
for (const [tree, r] of results) {
  const cells = [r.p50, r.p99, r.max, r.creates.map(Math.round), r.cpu].map((values) => values.join(' / '))
  console.log(`| ${tree} | ${cells.join(' | ')} |`)
}
