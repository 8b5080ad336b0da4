// Sharing one server (issue 14), for one or more trees of fluxhost (e.g. the commit before
// per-key limits and this one), each built with `npm run build`. Reports; asserts nothing.
//
// 1. What a key's limits cost a create: creates/s and the server's CPU per create over HTTP
//    (BFL `POST /v1/flux-pro-1.1`, `--no-worker`, so jobs stay queued) for a key without
//    limits and a key with all four set too high to refuse, in the same server process, in
//    alternating rounds so drift hits both alike. Trees without the limits API skip this.
// 2. Fair turns: key A submits BENCH_BACKLOG jobs of BENCH_JOB_MS each (preview engine,
//    `X-Fluxhost-Simulate: slow=`) to a server with BENCH_WORKERS slots; BENCH_GAP_MS after
//    A's creates are answered, key B submits one. B's wait is its job's startedAt − createdAt
//    (server clock). Then A is revoked (its jobs canceled) and the next repetition starts
//    with a new key A once the queue is empty. Under global FIFO each repetition takes about
//    BACKLOG × JOB_MS ÷ WORKERS, so a tree stops repeating after BENCH_FAIR_BUDGET_S.
//
//   BENCH_TREES=/tmp/before,. node --import tsx bench/limits.ts
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import { KEY, percentile, ROOT, round, stop } from './lib.js'

const TREES = (process.env.BENCH_TREES ?? ROOT).split(',').map((tree) => path.resolve(tree))
/** `all` (default), `creates` or `fairness`. */
const PART = process.env.BENCH_PART ?? 'all'
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10)
const CREATE_S = Number(process.env.BENCH_CREATE_S ?? 8)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 200)
const JOB_MS = Number(process.env.BENCH_JOB_MS ?? 300)
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2)
const REPS = Number(process.env.BENCH_REPS ?? 15)
const FAIR_BUDGET_S = Number(process.env.BENCH_FAIR_BUDGET_S ?? 100)
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 50)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length
const label = (tree: string) => (tree === ROOT ? `${path.basename(tree)} (this tree)` : tree)
const children = new Set<ChildProcess>()

/** `fluxhost serve` from `tree` on an ephemeral port, the bench key its admin key, no server-wide limits. */
function serve(tree: string, extra: Record<string, string>, flags: string[] = []) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxhost-bench-limits-'))
  const env: Record<string, string | undefined> = { ...process.env }
  for (const name of ['FLUXHOST_KEY_CONCURRENCY', 'FLUXHOST_KEY_RPM', 'FLUXHOST_KEY_BUDGET']) delete env[name]
  // BENCH_NODE_ARGS: flags for the server's node (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const child = spawn(process.execPath, [...nodeArgs, 'bin/fluxhost.js', 'serve', ...flags], {
    cwd: tree,
    env: {
      ...env,
      FLUXHOST_DATA_DIR: dataDir,
      FLUXHOST_PORT: '0',
      FLUXHOST_API_KEYS: KEY,
      FLUXHOST_LOG_LEVEL: 'warn',
      FLUXHOST_SAFETY_CHECKER: '0',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.add(child)
  child.once('exit', () => {
    children.delete(child)
    fs.rmSync(dataDir, { recursive: true, force: true })
  })
  return new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
    let out = ''
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (!match) return
      child.stdout!.off('data', onData)
      child.stdout!.resume()
      resolve({ child, url: match[1]! })
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`serve in ${tree} exited with ${code}: ${out}`)))
  })
}

/** A JSON request with `key`; the status and the parsed body. */
async function call(url: string, key: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: { 'x-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as any }
}

/** A new user key: its id and its secret. */
async function newKey(url: string, name: string): Promise<{ id: string; secret: string }> {
  const { status, body } = await call(`${url}/api/admin/keys`, KEY, 'POST', { name, scope: 'user' })
  if (status !== 201) throw new Error(`creating key ${name} answered ${status}: ${JSON.stringify(body)}`)
  return { id: body.apiKey.id, secret: body.key }
}

/** Sets all four limits of a key too high to refuse; false where the tree has no limits API. */
async function limitKey(url: string, id: string): Promise<boolean> {
  const limits = await call(`${url}/api/admin/keys/${id}/limits`, KEY, 'PATCH', {
    concurrency: 1_000_000_000,
    rpm: 1_000_000_000,
    budget: { usd: 1_000_000_000, period: 'month' },
  })
  if (limits.status === 404) return false
  if (limits.status !== 200) throw new Error(`setting limits answered ${limits.status}: ${JSON.stringify(limits.body)}`)
  const credits = await call(`${url}/api/admin/keys/${id}/credits`, KEY, 'POST', { set: 1_000_000_000 })
  if (credits.status !== 200) throw new Error(`setting credits answered ${credits.status}`)
  return true
}

/** The server's CPU time so far (user + system), in ms, from /proc. */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10 // utime + stime, in clock ticks of 10 ms
}

const createBody = JSON.stringify({ prompt: 'a red apple on a white table', width: 1024, height: 768, seed: 42 })

/** Creates with `key` for `seconds`: creates/s, p99 latency, CPU ms per 1,000 creates, refusals. */
async function creates(url: string, pid: number, key: string, seconds: number) {
  const before = cpuMs(pid)
  const result = await autocannon({
    url: `${url}/v1/flux-pro-1.1`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'x-key': key, 'content-type': 'application/json' },
    body: createBody,
  })
  const cpu = cpuMs(pid) - before
  return {
    perS: result.requests.average,
    p99: result.latency.p99,
    cpuPer1000: (cpu / result.requests.total) * 1000,
    refused: result.non2xx + result.errors,
  }
}

type CreateRow = { perS: number[]; p99: number[]; cpu: number[]; refused: number }

/** Part 1 on one tree; undefined where the tree has no per-key limits. */
async function limitCost(tree: string) {
  const server = await serve(tree, {}, ['--no-worker'])
  try {
    const free = await newKey(server.url, 'bench-unlimited')
    const limited = await newKey(server.url, 'bench-limited')
    if (!(await limitKey(server.url, limited.id))) return undefined
    const rows: Record<'free' | 'limited', CreateRow> = {
      free: { perS: [], p99: [], cpu: [], refused: 0 },
      limited: { perS: [], p99: [], cpu: [], refused: 0 },
    }
    const pid = server.child.pid!
    for (const key of [free, limited]) await creates(server.url, pid, key.secret, 2) // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? (['free', 'limited'] as const) : (['limited', 'free'] as const)
      for (const which of order) {
        const result = await creates(server.url, pid, (which === 'free' ? free : limited).secret, CREATE_S)
        const row = rows[which]
        row.perS.push(result.perS)
        row.p99.push(result.p99)
        row.cpu.push(result.cpuPer1000)
        row.refused += result.refused
        const name = which === 'free' ? 'without' : 'with'
        console.log(
          `  round ${r + 1}, key ${name} limits: ${Math.round(result.perS)} creates/s, ` +
            `${Math.round(result.cpuPer1000)} CPU ms / 1,000, ${result.refused} not 2xx`,
        )
      }
    }
    return rows
  } finally {
    await stop(server.child)
  }
}

/** Waits until no job is queued or running on the server. */
async function drained(url: string) {
  for (;;) {
    const queue = (await call(`${url}/api/admin/queue`, KEY)).body
    if (queue.depth === 0 && queue.running.length === 0) return
    await sleep(50)
  }
}

/** Part 2 on one tree: B's waits in ms, one per repetition. */
async function fairness(tree: string) {
  const server = await serve(tree, { FLUXHOST_WORKER_CONCURRENCY: String(WORKERS) })
  const simulate = { 'x-fluxhost-simulate': `slow=${JOB_MS}` }
  const job = (prompt: string) => ({ prompt, width: 256, height: 256 })
  const waits: number[] = []
  try {
    const b = await newKey(server.url, 'bench-b')
    const started = performance.now()
    for (let rep = 0; rep < REPS; rep++) {
      if (rep > 0 && performance.now() - started > FAIR_BUDGET_S * 1000) break
      const a = await newKey(server.url, `bench-a-${rep}`)
      const made = await Promise.all(
        Array.from({ length: BACKLOG }, (_, i) =>
          call(`${server.url}/v1/flux-pro-1.1`, a.secret, 'POST', job(`a ${rep} ${i}`), simulate),
        ),
      )
      if (made.some((m) => m.status !== 200))
        throw new Error(`a create of A answered ${made.find((m) => m.status !== 200)!.status}`)
      await sleep(GAP_MS)
      const created = await call(`${server.url}/v1/flux-pro-1.1`, b.secret, 'POST', job(`b ${rep}`), simulate)
      if (created.status !== 200) throw new Error(`B's create answered ${created.status}`)
      let wait: number | undefined
      while (wait === undefined) {
        await sleep(50)
        const state = (await call(`${server.url}/api/jobs/${created.body.id}`, b.secret)).body
        if (state.startedAt) wait = Date.parse(state.startedAt) - Date.parse(state.createdAt)
      }
      waits.push(wait)
      const revoked = await call(`${server.url}/api/admin/keys/${a.id}/revoke`, KEY, 'POST')
      console.log(
        `  repetition ${rep + 1}: B waited ${wait} ms; A revoked, ${revoked.body.canceledJobs} of its jobs canceled`,
      )
      await drained(server.url)
    }
    return waits
  } finally {
    await stop(server.child)
  }
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')
const machine =
  `${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
  `Node ${process.version}, load ${load()} at start`
const costs = new Map<string, Record<'free' | 'limited', CreateRow>>()
const fair = new Map<string, number[]>()
try {
  for (const tree of TREES) {
    if (PART === 'all' || PART === 'creates') {
      console.log(`creates, ${label(tree)}:`)
      const rows = await limitCost(tree)
      if (rows) costs.set(tree, rows)
      else console.log('  no per-key limits in this tree: skipped')
    }
    if (PART === 'all' || PART === 'fairness') {
      console.log(`fair turns, ${label(tree)}:`)
      fair.set(tree, await fairness(tree))
    }
  }
} finally {
  await Promise.all([...children].map(stop))
}

console.log(`\n${machine}, ${load()} at the end`)
const joined = (values: number[]) => values.map((v) => Math.round(v).toLocaleString('en')).join(' / ')
if (costs.size > 0) {
  console.log(
    `\ncreates, POST /v1/flux-pro-1.1, --no-worker, ${CONNECTIONS} connections, ${CREATE_S} s a round, ` +
      `${ROUNDS} rounds each, alternating\n`,
  )
  console.log('| tree | key | creates/s per round (mean) | p99 ms | CPU ms / 1,000 creates (mean) | not 2xx |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const [tree, rows] of costs) {
    for (const which of ['free', 'limited'] as const) {
      const row = rows[which]
      console.log(
        `| ${label(tree)} | ${which === 'free' ? 'without limits' : 'with limits'} | ` +
          `${joined(row.perS)} (${Math.round(mean(row.perS)).toLocaleString('en')}) | ${joined(row.p99)} | ` +
          `${joined(row.cpu)} (${Math.round(mean(row.cpu))}) | ${row.refused} |`,
      )
    }
  }
  for (const [tree, rows] of costs) {
    const rate = mean(rows.limited.perS) / mean(rows.free.perS)
    const cpu = mean(rows.limited.cpu) / mean(rows.free.cpu)
    console.log(
      `\n${label(tree)}: with ÷ without limits, creates/s ${round(rate)} (${Math.round((1 - rate) * 100)} % fewer), ` +
        `CPU per create ${round(cpu)} (target: limits cost < 10 %)`,
    )
  }
}
if (fair.size > 0) {
  console.log(
    `\nB's wait (create → started) behind A's ${BACKLOG} jobs of ${JOB_MS} ms, ${WORKERS} worker slots; ` +
      `target ≤ ${JOB_MS + 100} ms at p99; FIFO would be ≈ ${Math.round((BACKLOG * JOB_MS) / WORKERS)} ms\n`,
  )
  console.log('| tree | repetitions | p50 ms | p99 ms | max ms | each |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const [tree, waits] of fair)
    console.log(
      `| ${label(tree)} | ${waits.length} | ${percentile(waits, 50)} | ${percentile(waits, 99)} | ` +
        `${Math.max(...waits)} | ${joined(waits)} |`,
    )
}
