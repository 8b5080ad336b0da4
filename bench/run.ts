// npm run bench: fluxhost's HTTP and end-to-end throughput, side by side with a bare
// Fastify route in the same run. Servers run as child processes (built dist/), the load
// generator here. Prints a table and writes bench/results.json. Reports, never asserts.
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import sharp from 'sharp'
import { Agent, request } from 'undici'
import { printWorkerScaling, workerScaling } from './workers.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const DURATION = Number(process.env.BENCH_DURATION ?? 8)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const E2E_JOBS = Number(process.env.BENCH_E2E_JOBS ?? 200)
const SYNC_REQUESTS = Number(process.env.BENCH_SYNC_REQUESTS ?? 300)
const WEBHOOK_JOBS = Number(process.env.BENCH_WEBHOOK_JOBS ?? 100)
const SAFETY_IMAGES = Number(process.env.BENCH_SAFETY_IMAGES ?? 30)
const GREY_64 = { width: 64, height: 64, channels: 3, background: '#808080' } as const
/**
 * `all` (default), or one part alone: `workers` (worker scaling and claim latency on PostgreSQL),
 * `scale` (SQLite vs PostgreSQL creates), `engines`, `delivery`, `gallery` (thumbnails vs full images).
 */
const ONLY = process.env.BENCH_ONLY ?? 'all'
const ENGINE_JOBS = Number(process.env.BENCH_ENGINE_JOBS ?? 100)
const BFL_TASK_MS = Number(process.env.BENCH_BFL_TASK_MS ?? 2000)
const LOCAL_STEPS = Number(process.env.BENCH_LOCAL_STEPS ?? 4)
const LOCAL_STEP_MS = Number(process.env.BENCH_LOCAL_STEP_MS ?? 25)
const KEY = 'bench-key'
const children: ChildProcess[] = []

function start(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
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
  load({
    url: `${url}/v1/flux-pro-1.1`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: createBody,
  })

// The create route of each dialect, with a body it accepts and its own way of passing the key.
const seaartCreate = (url: string) =>
  load({
    url: `${url}/v1/queue/flux_pro_11`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: createBody,
  })
const apiframeBody = JSON.stringify({
  prompt: 'a red apple on a white table',
  model: 'flux-1.1-pro',
  fluxParams: { aspect_ratio: '4:3', seed: 42 },
})
const apiframeCreate = (url: string) =>
  load({
    url: `${url}/v2/images/generate`,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    body: apiframeBody,
  })

/**
 * The synchronous route's latency over the engine's own time: sequential requests (one at
 * a time, so no queueing) for 512×512 images, each latency less the `timings.inference`
 * the server reports. What remains is the API's, the queue's, the encoder's and the store's;
 * `timings.encode` (encoding and writing the files) separates the encoder's share.
 */
async function syncOverhead(url: string, requests: number) {
  const agent = new Agent({ connections: 1 })
  const body = JSON.stringify({ model: 'flux-pro/v1.1', prompt: 'a red apple on a white table', image_size: 'square' })
  const once = async () => {
    const started = performance.now()
    const response = await request(`${url}/v1/images/generations`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body,
    })
    const result = (await response.body.json()) as { timings: { inference: number; encode: number } }
    const latency = performance.now() - started
    if (response.statusCode !== 201) throw new Error(`sync request answered ${response.statusCode}`)
    return { latency, inference: result.timings.inference * 1000, encode: result.timings.encode * 1000 }
  }
  for (let i = 0; i < 20; i++) await once() // warm-up
  const samples = []
  for (let i = 0; i < requests; i++) samples.push(await once())
  await agent.close()
  const pct = (values: number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b)
    return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 100) / 100
  }
  const overhead = samples.map((s) => s.latency - s.inference)
  const ownOverhead = samples.map((s) => s.latency - s.inference - s.encode)
  const encode = samples.map((s) => s.encode)
  const latency = samples.map((s) => s.latency)
  const inference = samples.map((s) => s.inference)
  return {
    requests,
    size: '512x512 jpeg',
    overheadMs: { p50: pct(overhead, 50), p90: pct(overhead, 90), p99: pct(overhead, 99), max: pct(overhead, 100) },
    overheadWithoutEncodeMs: {
      p50: pct(ownOverhead, 50),
      p90: pct(ownOverhead, 90),
      p99: pct(ownOverhead, 99),
      max: pct(ownOverhead, 100),
    },
    encodeMs: { p50: pct(encode, 50), p99: pct(encode, 99) },
    latencyMs: { p50: pct(latency, 50), p99: pct(latency, 99) },
    inferenceMs: { p50: pct(inference, 50), p99: pct(inference, 99) },
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10
}

/**
 * The output classifier alone: nsfwjs in its worker thread (as the server runs it), warm,
 * classifying preview renders of 1024×768, one at a time.
 */
async function classifierTime(images: number) {
  const { createNsfwClassifier } = await import('../src/safety/classifier.js')
  const { createPreviewEngine } = await import('../src/engines/preview/preview-engine.js')
  const engine = createPreviewEngine({ steps: 4 })
  const classifier = createNsfwClassifier()
  const loadStarted = performance.now()
  await classifier.ready()
  const loadMs = performance.now() - loadStarted
  const times: number[] = []
  const inWorker: number[] = []
  for (let i = 0; i < images + 3; i++) {
    const output = await engine.generate(
      {
        jobId: 'b',
        model: 'flux-pro-1.1',
        prompt: `bench ${i % 5}`,
        width: 1024,
        height: 768,
        seed: i,
        numImages: 1,
        promptUpsampling: false,
        raw: false,
        safetyTolerance: 2,
        output: { format: 'jpeg', quality: 90 },
      },
      { signal: new AbortController().signal, progress: () => undefined },
    )
    const image = output.images[0]!
    if (image.kind !== 'raw') throw new Error('preview renders raw pixels')
    const started = performance.now()
    const scores = await classifier.classify({ data: image.data, width: image.width, height: image.height })
    if (i >= 3) {
      times.push(performance.now() - started)
      inWorker.push(scores.ms)
    }
  }
  await classifier.close()
  return {
    images,
    size: '1024x768',
    loadMs: Math.round(loadMs),
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    inWorkerP50: percentile(inWorker, 50),
  }
}

/**
 * Webhook delivery latency: `jobs` jobs with a webhook created at once, each delivery timed
 * from the job's finishedAt (in its body) to its arrival at a receiver in this process.
 */
async function webhookLatency(url: string, jobs: number) {
  const http = await import('node:http')
  const latencies: number[] = []
  let received = 0
  let allIn!: () => void
  const done = new Promise<void>((resolve) => (allIn = resolve))
  const receiver = http.createServer((req, res) => {
    const arrived = Date.now()
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      res.writeHead(204).end()
      latencies.push(arrived - Date.parse(JSON.parse(body).finishedAt))
      if (++received === jobs) allIn()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const hook = `http://127.0.0.1:${(receiver.address() as import('node:net').AddressInfo).port}/hook`
  const started = performance.now()
  await Promise.all(
    Array.from({ length: jobs }, () =>
      json(`${url}/api/jobs`, {
        method: 'POST',
        body: JSON.stringify({ prompt: 'hooked', width: 256, height: 256, webhookUrl: hook }),
      }),
    ),
  )
  await done
  const seconds = (performance.now() - started) / 1000
  await new Promise((resolve) => receiver.close(resolve))
  return {
    jobs,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    seconds: Math.round(seconds * 100) / 100,
  }
}

/**
 * The bfl engine against the BFL emulator: `jobs` jobs in flight at once, each task Ready
 * `BFL_TASK_MS` after its submit. Per job, fluxhost's added time is its startedAt→finishedAt
 * (a worker took it; queueing for one of the 24 is the account limit's) less BFL_TASK_MS:
 * submit, polling lag, download, encode, store. And the completed jobs per second.
 */
async function bflEngine(scratch: string, jobs: number) {
  const { startBflEmulator } = await import('../test/emulators/bfl.js')
  const emulator = await startBflEmulator({ apiKey: 'bench', script: () => ({ readyAfterMs: BFL_TASK_MS }) })
  const server = await fluxhost(path.join(scratch, 'bfl'), {
    FLUXHOST_BFL_API_KEY: 'bench',
    FLUXHOST_BFL_URL: emulator.url,
    FLUXHOST_WORKER_CONCURRENCY: '24',
    FLUXHOST_SAFETY_CHECKER: '0',
  })
  try {
    const started = performance.now()
    const created = await Promise.all(
      Array.from({ length: jobs }, (_, i) =>
        json(`${server.url}/api/jobs`, {
          method: 'POST',
          body: JSON.stringify({ prompt: 'a harbour', width: 512, height: 512, seed: 1000 + i }),
        }),
      ),
    )
    while ((await finishedJobs(server.url)) < jobs) await new Promise((resolve) => setTimeout(resolve, 50))
    const seconds = (performance.now() - started) / 1000
    const added: number[] = []
    const ratios: number[] = []
    for (const c of created) {
      const job = await json(`${server.url}/api/jobs/${c.id}`)
      const total = Date.parse(job.finishedAt) - Date.parse(job.createdAt)
      // Time queued for a worker (24, as many as upstream slots) is the account limit's, not ours.
      // The emulator's own latency: each task is Ready BFL_TASK_MS after its submit.
      const up = BFL_TASK_MS
      const queued = Date.parse(job.startedAt) - Date.parse(job.createdAt)
      added.push(total - queued - up)
      ratios.push((total - queued) / up)
    }
    return {
      jobs,
      taskMs: BFL_TASK_MS,
      maxActive: emulator.maxActive(),
      addedMs: { p50: percentile(added, 50), p99: percentile(added, 99) },
      ratio: {
        p50: Math.round(percentile(ratios, 50) * 100) / 100,
        p99: Math.round(percentile(ratios, 99) * 100) / 100,
      },
      jobsPerS: Math.round((jobs / seconds) * 10) / 10,
    }
  } finally {
    await stop(server.child)
    await emulator.close()
  }
}

/**
 * A local engine (comfyui or sdcpp) against its emulator, on the defaults (2 workers, 2
 * prompts upstream): `jobs` submitted at once. The emulator runs one prompt at a time, each
 * LOCAL_STEPS × LOCAL_STEP_MS plus making its PNG. Per job, fluxhost's added time is the
 * job's running time (startedAt→finishedAt) less the time the upstream held the prompt
 * (accepted → history written / job finished): filling the workflow, the websocket, the
 * submit, noticing the end, downloading, encoding, storing. Throughput is compared with
 * the emulator's own bound (one prompt after another, no gaps).
 */
async function localEngine(kind: 'comfyui' | 'sdcpp', scratch: string, jobs: number) {
  const stepMs = LOCAL_STEP_MS
  const upstream =
    kind === 'comfyui'
      ? await (await import('../test/emulators/comfyui.js')).startComfyEmulator({
          stepMs,
          script: () => ({ steps: LOCAL_STEPS }),
        })
      : await (await import('../test/emulators/sdcpp.js')).startSdcppEmulator({
          stepMs,
          script: () => ({ steps: LOCAL_STEPS }),
        })
  const env: Record<string, string> =
    kind === 'comfyui' ? { FLUXHOST_COMFYUI_URL: upstream.url } : { FLUXHOST_SDCPP_URL: upstream.url }
  const server = await fluxhost(path.join(scratch, kind), { ...env, FLUXHOST_SAFETY_CHECKER: '0' })
  try {
    const started = performance.now()
    const created = await Promise.all(
      Array.from({ length: jobs }, (_, i) =>
        json(`${server.url}/api/jobs`, {
          method: 'POST',
          body: JSON.stringify({ prompt: `a harbour ${i}`, width: 512, height: 512, seed: 1000 + i }),
        }),
      ),
    )
    while ((await finishedJobs(server.url)) < jobs) await new Promise((resolve) => setTimeout(resolve, 50))
    const seconds = (performance.now() - started) / 1000
    // The upstream's own time per prompt: accepted → done, from the emulator's records.
    const held = new Map<string, number>()
    let busy = 0
    if ('prompts' in upstream) {
      for (const p of upstream.prompts) {
        const text = String(Object.values(p.graph).find((n) => n.class_type === 'CLIPTextEncode')?.inputs.text)
        held.set(text, p.endedAt! - p.receivedAt)
        busy += p.endedAt! - p.startedAt!
      }
    } else {
      for (const j of upstream.jobs) {
        held.set(j.body.prompt, j.endedMs! - j.createdMs)
        busy += j.endedMs! - j.startedMs!
      }
    }
    const added: number[] = []
    const ratios: number[] = []
    for (const [i, c] of created.entries()) {
      const job = await json(`${server.url}/api/jobs/${c.id}`)
      const running = Date.parse(job.finishedAt) - Date.parse(job.startedAt)
      const up = held.get(`a harbour ${i}`)!
      added.push(running - up)
      ratios.push(running / up)
    }
    const execMs = busy / jobs
    return {
      jobs,
      execMs: Math.round(execMs),
      addedMs: { p50: percentile(added, 50), p99: percentile(added, 99) },
      ratio: {
        p50: Math.round(percentile(ratios, 50) * 100) / 100,
        p99: Math.round(percentile(ratios, 99) * 100) / 100,
      },
      jobsPerS: Math.round((jobs / seconds) * 10) / 10,
      boundJobsPerS: Math.round((1000 / execMs) * 10) / 10,
      maxInQueue: upstream.maxInQueue(),
    }
  } finally {
    await stop(server.child)
    await upstream.close()
  }
}

/**
 * Submit throughput of an API-only process with its records in SQLite and in PostgreSQL
 * (FLUXHOST_BENCH_DATABASE_URL, default the local test database, a fresh schema), side by side.
 */
async function submitThroughput(scratch: string) {
  const pgUrl = process.env.FLUXHOST_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const schema = `bench_${process.pid}`
  const sqlite = await fluxhost(path.join(scratch, 'scale-sqlite'), {}, ['--no-worker'])
  const postgres = await fluxhost(
    path.join(scratch, 'scale-pg'),
    { DATABASE_URL: pgUrl, FLUXHOST_DATABASE_SCHEMA: schema },
    ['--no-worker'],
  )
  const create = (url: string) =>
    load({
      url: `${url}/v1/flux-pro-1.1`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-key': KEY },
      body: createBody,
    })
  try {
    for (const server of [sqlite, postgres])
      await load({
        url: `${server.url}/v1/flux-pro-1.1`,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-key': KEY },
        body: createBody,
        duration: 2,
      })
    const onSqlite = await create(sqlite.url)
    const onPostgres = await create(postgres.url)
    return { sqlite: onSqlite, postgres: onPostgres, ratio: Math.round((onPostgres.rps / onSqlite.rps) * 100) / 100 }
  } finally {
    await stop(sqlite.child)
    await stop(postgres.child)
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: pgUrl })
    await client.connect()
    await client.query(`drop schema if exists ${schema} cascade`)
    await client.end()
  }
}

async function json(url: string, init: RequestInit = {}): Promise<any> {
  const response = await fetch(url, {
    ...init,
    headers: { 'x-key': KEY, 'content-type': 'application/json', ...(init.headers ?? {}) },
  })
  return response.json()
}

async function readyJob(url: string): Promise<string> {
  const { id } = await json(`${url}/v1/flux-pro-1.1`, {
    method: 'POST',
    body: JSON.stringify({ prompt: 'bench', width: 256, height: 256 }),
  })
  for (;;) {
    const result = await json(`${url}/v1/get_result?id=${id}`)
    if (result.status === 'Ready') return id
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Jobs this server has finished, in any state (its fluxhost_jobs_finished_total counters). */
async function finishedJobs(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  let total = 0
  for (const match of text.matchAll(/^fluxhost_jobs_finished_total\{[^}]*\} (\d+)/gm)) total += Number(match[1])
  return total
}

/** Submits `jobs` BFL jobs at once and times them until all have finished (moderated ones too). */
async function endToEnd(
  url: string,
  jobs: number,
  size = { width: 256, height: 256 },
  extra: Record<string, unknown> = {},
): Promise<{ jobsPerS: number; seconds: number }> {
  const before = await finishedJobs(url)
  const started = performance.now()
  const body = JSON.stringify({ prompt: 'end to end', ...size, ...extra })
  await Promise.all(Array.from({ length: jobs }, () => json(`${url}/v1/flux-pro-1.1`, { method: 'POST', body })))
  while ((await finishedJobs(url)) - before < jobs) await new Promise((resolve) => setTimeout(resolve, 25))
  const seconds = (performance.now() - started) / 1000
  return { jobsPerS: Math.round((jobs / seconds) * 10) / 10, seconds: Math.round(seconds * 100) / 100 }
}

/**
 * What a gallery of 12 costs the browser and the server: the playground's default images
 * (1024x768 JPEG, quality 90) fetched whole, against their thumbnails on the first request
 * (rendered) and later (kept). 12 at once, as a browser loads a page of cards; median of
 * ROUNDS rounds (first-request thumbnails: each round on 12 new jobs).
 */
async function gallery(scratch: string) {
  const ROUNDS = 5
  const server = await fluxhost(path.join(scratch, 'gallery'), {
    FLUXHOST_WORKER_CONCURRENCY: '2',
    FLUXHOST_SAFETY_CHECKER: '0',
  })
  const body = JSON.stringify({
    prompt: 'a gallery card',
    width: 1024,
    height: 768,
    outputFormat: 'jpeg',
    outputQuality: 90,
  })
  const page = async () => {
    const ids: string[] = []
    for (let i = 0; i < 12; i++) ids.push((await json(`${server.url}/api/jobs`, { method: 'POST', body })).id)
    for (const id of ids) {
      while ((await json(`${server.url}/api/jobs/${id}`)).state !== 'succeeded')
        await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const list = await json(`${server.url}/api/jobs?limit=12`)
    return list.data.map(
      (job: { result: { images: Array<{ url: string; thumbnailUrl: string }> } }) => job.result.images[0]!,
    )
  }
  const fetchAll = async (urls: string[]) => {
    const started = performance.now()
    const sizes = await Promise.all(urls.map(async (url) => (await fetch(url)).arrayBuffer().then((b) => b.byteLength)))
    return { ms: performance.now() - started, bytes: sizes.reduce((a, b) => a + b, 0) }
  }
  const full: Array<{ ms: number; bytes: number }> = []
  const first: Array<{ ms: number; bytes: number }> = []
  const kept: Array<{ ms: number; bytes: number }> = []
  for (let round = 0; round < ROUNDS; round++) {
    const images = await page()
    full.push(await fetchAll(images.map((i: { url: string }) => i.url)))
    first.push(await fetchAll(images.map((i: { thumbnailUrl: string }) => i.thumbnailUrl)))
    kept.push(await fetchAll(images.map((i: { thumbnailUrl: string }) => i.thumbnailUrl)))
  }
  await stop(server.child)
  const median = (rows: Array<{ ms: number; bytes: number }>) => {
    const ms = rows.map((r) => r.ms).sort((a, b) => a - b)
    return { ms: Math.round(ms[Math.floor(ms.length / 2)]!), kib: Math.round(rows[0]!.bytes / 1024) }
  }
  const result = {
    images: 12,
    rounds: ROUNDS,
    full: median(full),
    thumbnailsFirst: median(first),
    thumbnailsKept: median(kept),
  }
  return { ...result, bytesRatio: round(result.thumbnailsKept.kib / result.full.kib) }
}

async function main() {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxhost-bench-'))
  const results: Record<string, unknown> = {
    machine:
      `${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
      `Node ${process.version}, ${os.platform()} ${os.release()}`,
    duration_s: DURATION,
    connections: CONNECTIONS,
  }
  try {
    if (ONLY === 'gallery' || ONLY === 'all') {
      const g = await gallery(scratch)
      results.gallery = g
      console.log(
        `\na gallery page of ${g.images} 1024x768 JPEGs, fetched at once (median of ${g.rounds}): ` +
          `full images ${g.full.kib} KiB in ${g.full.ms} ms; ` +
          `thumbnails on first request ${g.thumbnailsFirst.kib} KiB in ${g.thumbnailsFirst.ms} ms, ` +
          `afterwards ${g.thumbnailsKept.kib} KiB in ${g.thumbnailsKept.ms} ms; thumbnail bytes ÷ full ${g.bytesRatio}`,
      )
      if (ONLY === 'gallery') {
        fs.writeFileSync(path.join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`)
        return
      }
    }
    if (ONLY === 'workers' || ONLY === 'all') {
      const workers = await workerScaling(scratch)
      results.workers = workers
      printWorkerScaling(workers)
      if (ONLY === 'workers') {
        fs.writeFileSync(path.join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`)
        return
      }
    }
    if (ONLY === 'scale' || ONLY === 'all') {
      const scale = await submitThroughput(scratch)
      results.scale = scale
      console.log(
        `\ncreates, --no-worker server, ${CONNECTIONS} connections: ` +
          `SQLite ${scale.sqlite.rps} req/s (p99 ${scale.sqlite.p99} ms), ` +
          `PostgreSQL ${scale.postgres.rps} req/s (p99 ${scale.postgres.p99} ms); PostgreSQL ÷ SQLite ${scale.ratio}`,
      )
      if (ONLY === 'scale') {
        fs.writeFileSync(path.join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`)
        return
      }
    }
    if (ONLY === 'engines' || ONLY === 'all') {
      const bfl = await bflEngine(scratch, ENGINE_JOBS)
      console.log(
        `\nbfl engine vs the BFL emulator (tasks Ready ${bfl.taskMs} ms after submit), ${bfl.jobs} jobs in flight: ` +
          `added time p50 ${bfl.addedMs.p50} ms, p99 ${bfl.addedMs.p99} ms; ` +
          `(job time less slot wait) ÷ upstream time p50 ${bfl.ratio.p50}, p99 ${bfl.ratio.p99}; ` +
          `${bfl.jobsPerS} jobs/s with ${bfl.maxActive} upstream tasks at most`,
      )
      const comfyui = await localEngine('comfyui', scratch, ENGINE_JOBS)
      const sdcpp = await localEngine('sdcpp', scratch, ENGINE_JOBS)
      results.engines = { bfl, comfyui, sdcpp }
      for (const [name, r] of [
        ['comfyui', comfyui],
        ['sdcpp', sdcpp],
      ] as const) {
        console.log(
          `${name} engine vs its emulator (${r.execMs} ms a prompt, one at a time), ${r.jobs} jobs ` +
            `submitted at once: added time p50 ${r.addedMs.p50} ms, p99 ${r.addedMs.p99} ms; ` +
            `job time ÷ upstream time p50 ${r.ratio.p50}, p99 ${r.ratio.p99}; ` +
            `${r.jobsPerS} jobs/s of the upstream's ${r.boundJobsPerS}, ${r.maxInQueue} prompts upstream at most`,
        )
      }
      if (ONLY === 'engines') {
        fs.writeFileSync(path.join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`)
        return
      }
    }
    if (ONLY === 'delivery' || ONLY === 'all') {
      const classifier = await classifierTime(SAFETY_IMAGES)
      const plain = await fluxhost(path.join(scratch, 'plain'), {
        FLUXHOST_WORKER_CONCURRENCY: '2',
        FLUXHOST_SAFETY_CHECKER: '0',
        FLUXHOST_ALLOW_PRIVATE_URLS: '1',
      })
      const safe = await fluxhost(path.join(scratch, 'safe'), { FLUXHOST_WORKER_CONCURRENCY: '2' })
      const safe2 = await fluxhost(path.join(scratch, 'safe2'), {
        FLUXHOST_WORKER_CONCURRENCY: '2',
        FLUXHOST_SAFETY_THREADS: '2',
      })
      await Promise.all([readyJob(safe.url), readyJob(safe2.url)]) // loads the classifiers
      // The preview engine's own renders skip the classifier (issue 13): with an image prompt
      // showing through, every output is classified, as a real engine's would be.
      const shown = { image_prompt: (await sharp({ create: GREY_64 }).png().toBuffer()).toString('base64') }
      const small = { width: 256, height: 256 }
      const large = { width: 1024, height: 768 }
      const e2e = {
        small: {
          off: (await endToEnd(plain.url, 100, small, shown)).jobsPerS,
          on: (await endToEnd(safe.url, 100, small, shown)).jobsPerS,
          onTwoThreads: (await endToEnd(safe2.url, 100, small, shown)).jobsPerS,
        },
        large: {
          off: (await endToEnd(plain.url, 40, large, shown)).jobsPerS,
          on: (await endToEnd(safe.url, 40, large, shown)).jobsPerS,
          onTwoThreads: (await endToEnd(safe2.url, 40, large, shown)).jobsPerS,
        },
      }
      const webhooks = await webhookLatency(plain.url, WEBHOOK_JOBS)
      await Promise.all([stop(plain.child), stop(safe.child), stop(safe2.child)])
      results.safety = { classifier, endToEndJobsPerS: e2e }
      results.webhooks = webhooks
      console.log(
        `\noutput classifier (nsfwjs MobileNetV2, tfjs wasm, worker thread), 1024x768, ${classifier.images} images: ` +
          `p50 ${classifier.p50} ms, p99 ${classifier.p99} ms ` +
          `(in the worker p50 ${classifier.inWorkerP50} ms; model load ${classifier.loadMs} ms)`,
      )
      console.log(
        'end to end, 2 workers, checker off → on (1 thread) → on (2 threads): ' +
          `256x256 ${e2e.small.off} → ${e2e.small.on} → ${e2e.small.onTwoThreads} jobs/s; ` +
          `1024x768 ${e2e.large.off} → ${e2e.large.on} → ${e2e.large.onTwoThreads} jobs/s`,
      )
      console.log(
        `webhook delivery after completion, ${webhooks.jobs} jobs at once: ` +
          `p50 ${webhooks.p50} ms, p99 ${webhooks.p99} ms, max ${webhooks.max} ms ` +
          `(all delivered in ${webhooks.seconds} s)\n`,
      )
      if (ONLY === 'delivery') {
        fs.writeFileSync(path.join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`)
        return
      }
    }
    const bare = await start(['--import', 'tsx', 'bench/bare-server.ts'], {})
    const api = await fluxhost(path.join(scratch, 'api'), {}, ['--no-worker'])
    const apiInfo = await fluxhost(path.join(scratch, 'api-info'), { FLUXHOST_LOG_LEVEL: 'info' }, ['--no-worker'])
    // Each create load gets a server of its own, so every one starts on an empty queue.
    const seaartApi = await fluxhost(path.join(scratch, 'api-seaart'), {}, ['--no-worker'])
    const apiframeApi = await fluxhost(path.join(scratch, 'api-apiframe'), {}, ['--no-worker'])
    // The classifier is off here so these figures stay comparable with issue 3's; the
    // classifier's own cost is measured above.
    const full = await fluxhost(path.join(scratch, 'full'), {
      FLUXHOST_WORKER_CONCURRENCY: '2',
      FLUXHOST_SAFETY_CHECKER: '0',
    })
    const readyId = await readyJob(full.url)

    // Warm-up so JIT and SQLite caches are in the same state for every contender.
    for (const url of [bare.url, api.url, apiInfo.url])
      await load({
        url: `${url}/v1/flux-pro-1.1`,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-key': KEY },
        body: createBody,
        duration: 2,
      })
    await load({
      url: `${seaartApi.url}/v1/queue/flux_pro_11`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: createBody,
      duration: 2,
    })
    await load({
      url: `${apiframeApi.url}/v2/images/generate`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: apiframeBody,
      duration: 2,
    })

    const bareCreate = await post(bare.url)
    const create = await post(api.url, { 'x-key': KEY })
    const createInfo = await post(apiInfo.url, { 'x-key': KEY })
    const seaart = await seaartCreate(seaartApi.url)
    const apiframe = await apiframeCreate(apiframeApi.url)
    const bareGet = await load({ url: `${bare.url}/v1/get_result?id=${readyId}` })
    const get = await load({ url: `${full.url}/v1/get_result?id=${readyId}`, headers: { 'x-key': KEY } })
    const seaartStatus = await load({
      url: `${full.url}/v1/queue/flux_pro_11/requests/${readyId}/status`,
      headers: { authorization: `Bearer ${KEY}` },
    })
    const seaartResponse = await load({
      url: `${full.url}/v1/queue/flux_pro_11/requests/${readyId}/response`,
      headers: { authorization: `Bearer ${KEY}` },
    })
    const apiframeGet = await load({ url: `${full.url}/v2/jobs/${readyId}`, headers: { 'x-api-key': KEY } })
    const nativeGet = await load({ url: `${full.url}/api/jobs/${readyId}`, headers: { 'x-key': KEY } })
    const sync = await syncOverhead(full.url, SYNC_REQUESTS)
    const e2e = await endToEnd(full.url, E2E_JOBS)

    const vs = (l: Load, bareLoad: Load) => ({ ...l, ratio: round(l.rps / bareLoad.rps) })
    results.create = {
      bare: bareCreate,
      fluxhost: create,
      fluxhostInfoLogs: createInfo,
      ratio: round(create.rps / bareCreate.rps),
      ratioInfoLogs: round(createInfo.rps / bareCreate.rps),
    }
    results.create_by_dialect = {
      bfl: vs(create, bareCreate),
      seaart: vs(seaart, bareCreate),
      apiframe: vs(apiframe, bareCreate),
    }
    results.get_result = { bare: bareGet, fluxhost: get, ratio: round(get.rps / bareGet.rps) }
    results.read_by_dialect = {
      bfl: vs(get, bareGet),
      seaartStatus: vs(seaartStatus, bareGet),
      seaartResponse: vs(seaartResponse, bareGet),
      apiframe: vs(apiframeGet, bareGet),
      native: vs(nativeGet, bareGet),
    }
    results.sync_overhead = sync
    results.end_to_end = { jobs: E2E_JOBS, size: '256x256 jpeg', workerConcurrency: 2, ...e2e }

    const row = (name: string, l: Load, ratio?: number) => {
      const ratioText = ratio === undefined ? '' : `  ratio ${ratio}`
      const failures = l.non2xx || l.errors ? `  (${l.non2xx} non-2xx, ${l.errors} errors)` : ''
      return (
        `${name.padEnd(44)} ${String(l.rps).padStart(7)} req/s  ` +
        `p50 ${String(l.p50).padStart(3)} ms  p99 ${String(l.p99).padStart(4)} ms${ratioText}${failures}`
      )
    }
    const rowVs = (name: string, l: Load, bareLoad: Load) => row(name, l, round(l.rps / bareLoad.rps))
    console.log(`\nfluxhost benchmark — ${results.machine}; ${CONNECTIONS} connections, ${DURATION} s each\n`)
    console.log(row('bare Fastify POST (same schema)', bareCreate))
    console.log(rowVs('POST /v1/flux-pro-1.1 (log warn)', create, bareCreate))
    console.log(rowVs('POST /v1/flux-pro-1.1 (log info)', createInfo, bareCreate))
    console.log(rowVs('POST /v1/queue/flux_pro_11 (SeaArt)', seaart, bareCreate))
    console.log(rowVs('POST /v2/images/generate (Apiframe)', apiframe, bareCreate))
    console.log(row('bare Fastify GET (same body)', bareGet))
    console.log(rowVs('GET /v1/get_result (Ready job)', get, bareGet))
    console.log(rowVs('GET …/requests/:id/status (SeaArt)', seaartStatus, bareGet))
    console.log(rowVs('GET …/requests/:id/response (SeaArt)', seaartResponse, bareGet))
    console.log(rowVs('GET /v2/jobs/:id (Apiframe)', apiframeGet, bareGet))
    console.log(rowVs('GET /api/jobs/:id (native)', nativeGet, bareGet))
    console.log(
      `POST /v1/images/generations (AIML, sync), 512x512, ${sync.requests} sequential ` +
        `(latency p50 ${sync.latencyMs.p50} ms, engine p50 ${sync.inferenceMs.p50} ms):\n` +
        `  latency over engine time            p50 ${sync.overheadMs.p50} ms, ` +
        `p90 ${sync.overheadMs.p90} ms, p99 ${sync.overheadMs.p99} ms\n` +
        `  of which encoding + writing the jpeg p50 ${sync.encodeMs.p50} ms, p99 ${sync.encodeMs.p99} ms\n` +
        `  over engine and encoding            p50 ${sync.overheadWithoutEncodeMs.p50} ms, ` +
        `p90 ${sync.overheadWithoutEncodeMs.p90} ms, p99 ${sync.overheadWithoutEncodeMs.p99} ms`,
    )
    console.log(`end to end, preview 256x256, ${E2E_JOBS} jobs: ${e2e.jobsPerS} jobs/s (${e2e.seconds} s)\n`)
    fs.writeFileSync(path.join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`)
  } finally {
    await Promise.all(children.map(stop))
    fs.rmSync(scratch, { recursive: true, force: true })
  }
}

const round = (n: number) => Math.round(n * 100) / 100

await main()
