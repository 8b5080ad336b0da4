// BENCH_ONLY=workers: worker processes sharing PostgreSQL records. For each queue variant
// (BENCH_WORKER_VARIANTS), completed jobs per second with 1, 2 and 4 `fluxhost worker`
// processes, and the claim latency: how long a job waits from its create until a worker has
// it, while workers are idle. Reports; never asserts.
import type { ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fluxhost, json, PG_URL, percentile, pgQuery, round, spawnReady, stop } from './lib.js'

const JOBS = Number(process.env.BENCH_WORKER_JOBS ?? 200)
const JOB_MS = Number(process.env.BENCH_WORKER_JOB_MS ?? 200)
const LATENCY_JOBS = Number(process.env.BENCH_LATENCY_JOBS ?? 100)
const LATENCY_GAP_MS = Number(process.env.BENCH_LATENCY_GAP_MS ?? 40)
const CONCURRENCY = 2

/**
 * `name:VAR=value,VAR=value;name:…`: the settings that make each queue variant. The default
 * compares wake-ups over LISTEN/NOTIFY with polling alone.
 */
function variants(): { name: string; env: Record<string, string> }[] {
  const spec =
    process.env.BENCH_WORKER_VARIANTS ?? 'notify:FLUXHOST_DATABASE_LISTEN=1;polling:FLUXHOST_DATABASE_LISTEN=0'
  return spec.split(';').map((part) => {
    const colon = part.indexOf(':')
    const name = colon === -1 ? part : part.slice(0, colon)
    const settings = colon === -1 ? '' : part.slice(colon + 1)
    const env = Object.fromEntries(
      settings
        .split(',')
        .filter(Boolean)
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    )
    return { name, env }
  })
}

async function startWorker(env: Record<string, string>, dataDir: string): Promise<ChildProcess> {
  const { child } = await spawnReady(
    ['bin/fluxhost.js', 'worker'],
    { ...env, FLUXHOST_DATA_DIR: dataDir, FLUXHOST_LOG_LEVEL: 'warn' },
    /worker: \d+ at a time/,
  )
  return child
}

const succeeded = async (schema: string) =>
  (await pgQuery<{ n: number }>(`select count(*)::int as n from ${schema}.jobs where state = 'succeeded'`))[0]!.n

/** One API process and `count` workers on a fresh schema; `run` gets the API's URL. */
async function withFleet<T>(
  scratch: string,
  variant: { name: string; env: Record<string, string> },
  count: number,
  run: (api: string, schema: string) => Promise<T>,
): Promise<T> {
  const schema = `bench_${variant.name.replace(/\W/g, '')}_${count}_${process.pid}`
  await pgQuery(`drop schema if exists ${schema} cascade`)
  const env = {
    DATABASE_URL: PG_URL,
    FLUXHOST_DATABASE_SCHEMA: schema,
    FLUXHOST_SAFETY_CHECKER: '0',
    FLUXHOST_ALLOW_SIMULATE: '1',
    FLUXHOST_WORKER_CONCURRENCY: String(CONCURRENCY),
    ...variant.env,
  }
  const api = await fluxhost(path.join(scratch, `${schema}-api`), env, ['--no-worker'])
  const workers: ChildProcess[] = []
  try {
    for (let i = 0; i < count; i++) workers.push(await startWorker(env, path.join(scratch, `${schema}-w${i}`)))
    return await run(api.url, schema)
  } finally {
    for (const child of workers) await stop(child)
    await stop(api.child)
    await pgQuery(`drop schema if exists ${schema} cascade`)
  }
}

/** JOBS jobs of JOB_MS each submitted at once, timed until all have succeeded. */
async function throughput(api: string, schema: string): Promise<number> {
  const started = performance.now()
  await Promise.all(
    Array.from({ length: JOBS }, (_, i) =>
      json(`${api}/api/jobs`, {
        method: 'POST',
        headers: { 'x-fluxhost-simulate': `slow=${JOB_MS}` },
        body: JSON.stringify({ prompt: `w ${i}`, width: 256, height: 256 }),
      }),
    ),
  )
  // The API process runs no jobs itself: count them in the records.
  while ((await succeeded(schema)) < JOBS) await new Promise((resolve) => setTimeout(resolve, 50))
  return Math.round((JOBS / ((performance.now() - started) / 1000)) * 10) / 10
}

/**
 * Jobs created one at a time, LATENCY_GAP_MS apart, while the workers have free slots: each
 * job's started_at − created_at (both written on this machine's clock) is the time from its
 * create until a worker claimed it.
 */
async function claimLatency(api: string, schema: string) {
  const ids: string[] = []
  for (let i = 0; i < LATENCY_JOBS; i++) {
    ids.push(
      (
        await json(`${api}/api/jobs`, {
          method: 'POST',
          body: JSON.stringify({ prompt: `l ${i}`, width: 256, height: 256 }),
        })
      ).id,
    )
    await new Promise((resolve) => setTimeout(resolve, LATENCY_GAP_MS))
  }
  while ((await succeeded(schema)) < LATENCY_JOBS) await new Promise((resolve) => setTimeout(resolve, 50))
  const rows = await pgQuery<{ ms: string }>(`select started_at - created_at as ms from ${schema}.jobs`)
  const ms = rows.map((row) => Number(row.ms))
  return { jobs: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: Math.max(...ms) }
}

export async function workerScaling(scratch: string) {
  const rows: { variant: string; workers: number; jobsPerS: number; efficiency: number; bound: number }[] = []
  const latency: { variant: string; workers: number; jobs: number; p50: number; p99: number; max: number }[] = []
  for (const variant of variants()) {
    for (const count of [1, 2, 4]) {
      const jobsPerS = await withFleet(scratch, variant, count, throughput)
      rows.push({
        variant: variant.name,
        workers: count,
        jobsPerS,
        efficiency: 0,
        bound: Math.round(((count * CONCURRENCY * 1000) / JOB_MS) * 10) / 10,
      })
      console.log(`  ${variant.name}, ${count} worker(s): ${jobsPerS} jobs/s`)
    }
    const measured = await withFleet(scratch, variant, 2, claimLatency)
    latency.push({ variant: variant.name, workers: 2, ...measured })
    console.log(
      `  ${variant.name}, claim latency with 2 idle workers: ` +
        `p50 ${measured.p50} ms, p99 ${measured.p99} ms, max ${measured.max} ms`,
    )
  }
  for (const row of rows) {
    const single = rows.find((r) => r.variant === row.variant && r.workers === 1)!
    row.efficiency = round(row.jobsPerS / (row.workers * single.jobsPerS))
  }
  return {
    jobs: JOBS,
    jobMs: JOB_MS,
    concurrency: CONCURRENCY,
    latencyJobs: LATENCY_JOBS,
    latencyGapMs: LATENCY_GAP_MS,
    scaling: rows,
    claimLatencyMs: latency,
  }
}

export function printWorkerScaling(result: Awaited<ReturnType<typeof workerScaling>>): void {
  console.log(
    `\nworker processes on PostgreSQL, ${result.jobs} jobs of ${result.jobMs} ms each, ` +
      `${result.concurrency} per worker:`,
  )
  for (const row of result.scaling)
    console.log(
      `  ${row.variant}, ${row.workers} worker(s): ${row.jobsPerS} jobs/s, ` +
        `scaling efficiency ${row.efficiency} (bound ${row.bound} jobs/s)`,
    )
  console.log(
    `claim latency (create → a worker has it), ${result.latencyJobs} jobs ${result.latencyGapMs} ms apart, ` +
      '2 idle workers:',
  )
  for (const row of result.claimLatencyMs)
    console.log(`  ${row.variant}: p50 ${row.p50} ms, p99 ${row.p99} ms, max ${row.max} ms`)
}
