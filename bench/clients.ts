// Real clients, unchanged (issue 15), for one or more trees of fluxhost (e.g. the commit
// before the issue and this one), each built with `npm run build`. Reports; asserts nothing.
//
// 1. `cors`: what CORS costs an answer. Two servers of one tree, one without CORS and one with
//    FLUXHOST_CORS_ORIGINS set; `GET /v1/get_result` of a finished job with an `Origin` header,
//    autocannon, in alternating rounds; then `OPTIONS` preflights on the CORS server.
// 2. `sync`: OpenAI's SDK path. `POST /v1/images/generations` (preview engine, 256², url), a
//    fixed number of requests at a fixed concurrency, with the SDK's `x-stainless-retry-count: 0`
//    (which may make fluxhost note the call so that a retry joins it) and without, alternating.
// 3. `list`: Apiframe's `GET /v2/jobs` over BENCH_LIST_JOBS jobs of one key: a page of 20 and
//    of 100 (autocannon), and walking every page by cursor. Trees without the route skip it.
//
//   BENCH_TREES=/tmp/before,. node --import tsx bench/clients.ts
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import { KEY, percentile, ROOT, round, spawnReady, stopAll } from './lib.js'

const TREES = (process.env.BENCH_TREES ?? ROOT).split(',').map((tree) => path.resolve(tree))
/** `all` (default), `cors`, `sync` or `list`. */
const PART = process.env.BENCH_PART ?? 'all'
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const SECONDS = Number(process.env.BENCH_DURATION ?? 6)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SYNC_REQUESTS = Number(process.env.BENCH_SYNC_REQUESTS ?? 200)
const SYNC_CONCURRENCY = Number(process.env.BENCH_SYNC_CONCURRENCY ?? 8)
const LIST_JOBS = Number(process.env.BENCH_LIST_JOBS ?? 5000)
const ORIGIN = 'http://app.example'

const label = (tree: string) => (tree === ROOT ? `${path.basename(tree)} (this tree)` : tree)
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length

/** `fluxhost serve` from `tree` on an ephemeral port over a fresh data dir, the bench key its admin key. */
async function serve(tree: string, extra: Record<string, string> = {}, flags: string[] = []) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxhost-bench-clients-'))
  const env: Record<string, string> = {
    FLUXHOST_DATA_DIR: dataDir,
    FLUXHOST_PORT: '0',
    FLUXHOST_API_KEYS: KEY,
    FLUXHOST_LOG_LEVEL: 'warn',
    FLUXHOST_SAFETY_CHECKER: '0',
    FLUXHOST_CORS_ORIGINS: '',
    ...extra,
  }
  const { child, match } = await spawnReady(
    [path.join(tree, 'bin/fluxhost.js'), 'serve', ...flags],
    env,
    /listening on (http:\/\/\S+)/,
  )
  child.once('exit', () => fs.rmSync(dataDir, { recursive: true, force: true }))
  return { child, url: match[1]! }
}

async function stopServer(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

async function call(url: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const response = await fetch(url, {
    ...init,
    headers: { 'x-key': KEY, 'content-type': 'application/json', ...init.headers },
  })
  return { status: response.status, headers: response.headers, body: (await response.json()) as any }
}

/** A finished BFL job on `url`: its id. */
async function finishedJob(url: string): Promise<string> {
  const { body } = await call(`${url}/v1/flux-pro-1.1`, {
    method: 'POST',
    body: JSON.stringify({ prompt: 'a lighthouse', width: 256, height: 256 }),
  })
  for (;;) {
    const poll = await call(`${url}/v1/get_result?id=${body.id}`)
    if (poll.body.status === 'Ready') return body.id as string
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function load(url: string, method: 'GET' | 'OPTIONS', headers: Record<string, string>) {
  const result = await autocannon({ url, method, connections: CONNECTIONS, duration: SECONDS, headers })
  return { rps: result.requests.average, p99: result.latency.p99, bad: result.non2xx + result.errors }
}

async function corsPart(tree: string) {
  const plain = await serve(tree)
  const cors = await serve(tree, { FLUXHOST_CORS_ORIGINS: ORIGIN })
  const probe = await fetch(`${cors.url}/v1/get_result?id=x`, { headers: { origin: ORIGIN, 'x-key': KEY } })
  if (probe.headers.get('access-control-allow-origin') !== ORIGIN) {
    console.log(`${label(tree)}: no CORS (FLUXHOST_CORS_ORIGINS unknown), skipped`)
    await Promise.all([stopServer(plain.child), stopServer(cors.child)])
    return
  }
  const ids = { plain: await finishedJob(plain.url), cors: await finishedJob(cors.url) }
  const headers = { 'x-key': KEY, origin: ORIGIN }
  const rows = { plain: [] as number[], cors: [] as number[], plainP99: [] as number[], corsP99: [] as number[] }
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    // Alternating order, so drift of the machine hits both alike.
    const order = round_ % 2 === 0 ? (['plain', 'cors'] as const) : (['cors', 'plain'] as const)
    for (const which of order) {
      const server = which === 'plain' ? plain : cors
      const r = await load(`${server.url}/v1/get_result?id=${ids[which]}`, 'GET', headers)
      if (r.bad > 0) console.log(`  ${which}: ${r.bad} not 2xx`)
      rows[which].push(r.rps)
      rows[which === 'plain' ? 'plainP99' : 'corsP99'].push(r.p99)
    }
  }
  const preflight = await load(`${cors.url}/v1/flux-pro-1.1`, 'OPTIONS', {
    origin: ORIGIN,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'content-type,x-key',
  })
  console.log(`\n${label(tree)} — GET /v1/get_result with Origin, ${CONNECTIONS} connections, ${SECONDS} s a round`)
  console.log(`  CORS off: ${rows.plain.map(Math.round).join(' / ')} req/s (mean ${Math.round(mean(rows.plain))})`)
  console.log(`  CORS on:  ${rows.cors.map(Math.round).join(' / ')} req/s (mean ${Math.round(mean(rows.cors))})`)
  console.log(`  ratio on ÷ off: ${round(mean(rows.cors) / mean(rows.plain))}`)
  console.log(`  p99 ms off ${rows.plainP99.join('/')}, on ${rows.corsP99.join('/')}`)
  console.log(
    `  OPTIONS preflight: ${Math.round(preflight.rps)} req/s, p99 ${preflight.p99} ms, ${preflight.bad} not 2xx`,
  )
  await Promise.all([stopServer(plain.child), stopServer(cors.child)])
}

/** SYNC_REQUESTS sync generations at SYNC_CONCURRENCY: requests/s and latency percentiles. */
async function syncRun(url: string, headers: Record<string, string>) {
  const body = JSON.stringify({ model: 'flux-pro/v1.1', prompt: 'a lighthouse at dusk', size: '256x256', n: 1 })
  const latencies: number[] = []
  let next = 0
  let failed = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: SYNC_CONCURRENCY }, async () => {
      while (next < SYNC_REQUESTS) {
        next++
        const t0 = performance.now()
        const response = await fetch(`${url}/v1/images/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
          body,
        })
        await response.arrayBuffer()
        if (response.status !== 200 && response.status !== 201) failed++
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  return { perS: SYNC_REQUESTS / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed }
}

async function syncPart(tree: string) {
  const server = await serve(tree)
  const sdk = { 'x-stainless-retry-count': '0', 'x-stainless-lang': 'js', 'user-agent': 'OpenAI/JS 6.49.0' }
  await syncRun(server.url, {}) // warm-up
  const rows = { plain: [] as Awaited<ReturnType<typeof syncRun>>[], sdk: [] as Awaited<ReturnType<typeof syncRun>>[] }
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    const order = round_ % 2 === 0 ? (['plain', 'sdk'] as const) : (['sdk', 'plain'] as const)
    for (const which of order) rows[which].push(await syncRun(server.url, which === 'sdk' ? sdk : {}))
  }
  console.log(
    `\n${label(tree)} — sync POST /v1/images/generations, ${SYNC_REQUESTS} requests at ${SYNC_CONCURRENCY} at once`,
  )
  for (const which of ['plain', 'sdk'] as const) {
    const r = rows[which]
    console.log(
      `  ${which === 'sdk' ? 'with x-stainless-retry-count: 0' : 'without SDK headers'}: ` +
        `${r.map((x) => Math.round(x.perS)).join(' / ')} req/s (mean ${Math.round(mean(r.map((x) => x.perS)))}), ` +
        `p50 ${r.map((x) => x.p50).join('/')} ms, p99 ${r.map((x) => x.p99).join('/')} ms, ` +
        `failed ${r.reduce((n, x) => n + x.failed, 0)}`,
    )
  }
  console.log(`  ratio sdk ÷ plain: ${round(mean(rows.sdk.map((x) => x.perS)) / mean(rows.plain.map((x) => x.perS)))}`)
  await stopServer(server.child)
}

async function listPart(tree: string) {
  const server = await serve(tree, {}, ['--no-worker'])
  const probe = await call(`${server.url}/v2/jobs?limit=1`, { headers: { 'x-api-key': KEY } })
  if (probe.status === 404) {
    console.log(`\n${label(tree)}: no GET /v2/jobs, list skipped`)
    await stopServer(server.child)
    return
  }
  const body = JSON.stringify({ model: 'flux-1.1-pro', prompt: 'a lighthouse' })
  const made = await autocannon({
    url: `${server.url}/v2/images/generate`,
    method: 'POST',
    connections: 10,
    amount: LIST_JOBS,
    headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
    body,
  })
  const headers = { 'x-api-key': KEY }
  const page20 = await load(`${server.url}/v2/jobs?limit=20`, 'GET', headers)
  const page100 = await load(`${server.url}/v2/jobs?limit=100`, 'GET', headers)
  const walk: number[] = []
  let seen = 0
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now()
    let cursor: string | null = null
    seen = 0
    do {
      const page: { body: any } = await call(
        `${server.url}/v2/jobs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { headers },
      )
      seen += page.body.jobs.length
      cursor = page.body.hasMore ? page.body.nextCursor : null
    } while (cursor)
    walk.push(performance.now() - t0)
  }
  console.log(`\n${label(tree)} — GET /v2/jobs over ${made.requests.total - made.non2xx} jobs of one key`)
  console.log(`  limit=20:  ${Math.round(page20.rps)} req/s, p99 ${page20.p99} ms, ${page20.bad} not 2xx`)
  console.log(`  limit=100: ${Math.round(page100.rps)} req/s, p99 ${page100.p99} ms, ${page100.bad} not 2xx`)
  console.log(`  every page by cursor (100 a page, ${seen} jobs): ${walk.map(Math.round).join(' / ')} ms`)
  await stopServer(server.child)
}

try {
  for (const tree of TREES) {
    if (PART === 'all' || PART === 'cors') await corsPart(tree)
    if (PART === 'all' || PART === 'sync') await syncPart(tree)
    if (PART === 'all' || PART === 'list') await listPart(tree)
  }
} finally {
  await stopAll()
}
