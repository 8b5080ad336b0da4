// Engines against their upstreams' emulators (issue 16). Reports; asserts nothing.
//
// 1. `added`: per hosted engine, a `fluxhost serve` routing flux-pro-1.1 to it alone, its
//    concurrency limit LIMIT (FLUXHOST_ENGINE_CONCURRENCY, or BFL's max active) and as many
//    workers; JOBS jobs at once, each upstream task ending TASK_MS after its submit. Per job,
//    the added time is its running time (a worker took it → finished) less TASK_MS: submit,
//    polling lag (or the callback), download, check, store. Jobs per second against the
//    limit's bound (LIMIT ÷ TASK_MS), over the whole run (the first wave comes from a fresh
//    process that has learnt no task time yet) and steady (the jobs after the first wave, from
//    the first wave's last end to the last end, by the server's clock). With callbacks (`push`)
//    for the engines that have them.
// 2. `failover`: flux-pro-1.1=fal,replicate with 200 ms tasks; after WARM jobs on fal, fal
//    starts failing (5xx, 429, or its port closed); the next jobs, one at a time: how long each
//    took beyond the upstream's task time, and how many were routed around fal.
// 3. `encode`: what storing a provider's file as it is saves per image against decoding and
//    re-encoding it (src/images/encode.ts), for a 1 MP JPEG and PNG and a 4 MP JPEG.
//
//   npm run build && BENCH_PART=added node --import tsx bench/engines.ts
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import sharp from 'sharp'
import { encodeImage } from '../src/images/encode.js'
import { startAimlEmulator } from '../test/emulators/aiml.js'
import { startApiframeEmulator } from '../test/emulators/apiframe.js'
import { startBflProvider } from '../test/emulators/bfl.js'
import { startFalEmulator } from '../test/emulators/fal.js'
import type { ProviderEmulator } from '../test/emulators/provider.js'
import { startReplicateEmulator } from '../test/emulators/replicate.js'
import { startSeaartEmulator } from '../test/emulators/seaart.js'
import { startTogetherEmulator } from '../test/emulators/together.js'
import { fluxhost, json, KEY, percentile, round, start, stop, stopAll } from './lib.js'

const PART = process.env.BENCH_PART ?? 'all'
const TASK_MS = Number(process.env.BENCH_TASK_MS ?? 2000)
const LIMIT = Number(process.env.BENCH_LIMIT ?? 8)
const JOBS = Number(process.env.BENCH_JOBS ?? 48)
const ONLY = process.env.BENCH_ENGINES?.split(',')
/** Another tree's server (built), e.g. the commit before issue 16, against the same emulators. */
const TREE = process.env.BENCH_TREE ? path.resolve(process.env.BENCH_TREE) : undefined
const serve = (extra: Record<string, string>) =>
  TREE
    ? start([path.join(TREE, 'bin/fluxhost.js'), 'serve'], {
        FLUXHOST_DATA_DIR: scratch(),
        FLUXHOST_PORT: '0',
        FLUXHOST_API_KEYS: KEY,
        FLUXHOST_LOG_LEVEL: 'warn',
        ...extra,
      })
    : fluxhost(scratch(), extra)

interface Provider {
  name: string
  start(): Promise<ProviderEmulator>
  env(emulator: ProviderEmulator): Record<string, string>
  push: boolean
}
const keyed = (key: string, url: string) => (emulator: ProviderEmulator) => ({
  [key]: emulator.key,
  [url]: emulator.url,
})
const PROVIDERS: Provider[] = [
  {
    name: 'bfl',
    start: () => startBflProvider('bench-bfl'),
    env: (e) => ({ FLUXHOST_BFL_API_KEY: e.key, FLUXHOST_BFL_URL: e.url, FLUXHOST_BFL_MAX_ACTIVE: String(LIMIT) }),
    push: true,
  },
  {
    name: 'fal',
    start: () => startFalEmulator({ key: 'bench-fal' }),
    env: (e) => ({
      ...keyed('FLUXHOST_FAL_KEY', 'FLUXHOST_FAL_URL')(e),
      FLUXHOST_FAL_JWKS_URL: `${e.url}/.well-known/jwks.json`,
    }),
    push: true,
  },
  {
    name: 'replicate',
    start: () => startReplicateEmulator({ key: 'bench-replicate' }),
    env: keyed('FLUXHOST_REPLICATE_TOKEN', 'FLUXHOST_REPLICATE_URL'),
    push: true,
  },
  {
    name: 'together',
    start: () => startTogetherEmulator({ key: 'bench-together' }),
    env: keyed('FLUXHOST_TOGETHER_KEY', 'FLUXHOST_TOGETHER_URL'),
    push: false,
  },
  {
    name: 'aiml',
    start: () => startAimlEmulator({ key: 'bench-aiml' }),
    env: keyed('FLUXHOST_AIML_KEY', 'FLUXHOST_AIML_URL'),
    push: false,
  },
  {
    name: 'apiframe',
    start: () => startApiframeEmulator({ key: 'bench-apiframe' }),
    env: keyed('FLUXHOST_APIFRAME_KEY', 'FLUXHOST_APIFRAME_URL'),
    push: false,
  },
  {
    name: 'seaart',
    start: () => startSeaartEmulator({ key: 'bench-seaart' }),
    env: keyed('FLUXHOST_SEAART_KEY', 'FLUXHOST_SEAART_URL'),
    push: false,
  },
]

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fluxhost-bench-engines-'))
const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })

/** Creates `count` jobs at once and waits for each to end; its record's times. */
async function runJobs(url: string, count: number, prompt: string) {
  const created = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      json(`${url}/api/jobs`, {
        method: 'POST',
        body: JSON.stringify({ prompt: `${prompt} ${i}`, width: 512, height: 512, seed: 1000 + i }),
      }),
    ),
  )
  const jobs = []
  for (const c of created) {
    if (!c.id) throw new Error(`create refused: ${JSON.stringify(c).slice(0, 300)}`)
    for (;;) {
      const job = await json(`${url}/api/jobs/${c.id}`)
      if (['succeeded', 'failed', 'canceled'].includes(job.state)) {
        jobs.push(job)
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return jobs
}

async function added(provider: Provider, push: boolean) {
  const emulator = await provider.start()
  emulator.script({ delayMs: TASK_MS, pendingPolls: 0 })
  const port = push ? await freePort() : 0
  const server = await serve({
    ...provider.env(emulator),
    FLUXHOST_ROUTES: `flux-pro-1.1=${provider.name}`,
    FLUXHOST_ENGINE_CONCURRENCY: `${provider.name}=${LIMIT}`,
    FLUXHOST_WORKER_CONCURRENCY: String(LIMIT),
    FLUXHOST_SAFETY_CHECKER: '0',
    ...(push
      ? {
          FLUXHOST_PORT: String(port),
          FLUXHOST_PUBLIC_URL: `http://127.0.0.1:${port}`,
          FLUXHOST_PROVIDER_WEBHOOKS: '1',
        }
      : {}),
  })
  try {
    const started = performance.now()
    const jobs = await runJobs(server.url, JOBS, `${provider.name} added`)
    const seconds = (performance.now() - started) / 1000
    const failed = jobs.filter((j) => j.state !== 'succeeded')
    if (failed.length > 0)
      throw new Error(`${provider.name}: ${failed.length} jobs failed: ${failed[0].error?.message}`)
    const extra = jobs.map((j) => Date.parse(j.finishedAt) - Date.parse(j.startedAt) - TASK_MS)
    if (process.env.BENCH_VERBOSE) console.error(provider.name, extra.join(' '))
    const bound = LIMIT / (TASK_MS / 1000)
    // Steady state: the jobs after the first wave (a fresh process, nothing learnt yet), over
    // the time from the first wave's last end to the last job's end, from the server's clock.
    const ends = jobs.map((j) => Date.parse(j.finishedAt)).sort((a, b) => a - b)
    const steady = (JOBS - LIMIT) / ((ends[JOBS - 1]! - ends[LIMIT - 1]!) / 1000)
    return {
      engine: provider.name,
      mode: push ? 'push' : 'poll',
      ...(TREE ? { tree: TREE } : {}),
      addedMs: { p50: percentile(extra, 50), p99: percentile(extra, 99) },
      jobsPerS: round(JOBS / seconds),
      bound: round(bound),
      share: `${Math.round((JOBS / seconds / bound) * 100)} %`,
      steadyJobsPerS: round(steady),
      steadyShare: `${Math.round((steady / bound) * 100)} %`,
    }
  } finally {
    await stop(server.child)
    await emulator.close()
  }
}

async function failover(mode: 'server_error' | 'rate_limited' | 'down') {
  const taskMs = 200
  const fal = await startFalEmulator({ key: 'bench-fal' })
  const replicate = await startReplicateEmulator({ key: 'bench-replicate' })
  fal.script({ delayMs: taskMs, pendingPolls: 0 })
  replicate.script({ delayMs: taskMs, pendingPolls: 0 })
  const server = await fluxhost(scratch(), {
    FLUXHOST_FAL_KEY: fal.key,
    FLUXHOST_FAL_URL: fal.url,
    FLUXHOST_REPLICATE_TOKEN: replicate.key,
    FLUXHOST_REPLICATE_URL: replicate.url,
    FLUXHOST_ROUTES: 'flux-pro-1.1=fal,replicate',
    FLUXHOST_SAFETY_CHECKER: '0',
  })
  try {
    await runJobs(server.url, 4, 'warm')
    if (mode === 'down') await fal.close()
    else fal.script({ refuse: mode, retryAfterS: 30 })
    const extra: number[] = []
    const engines: string[] = []
    for (let i = 0; i < 10; i++) {
      const [job] = await runJobs(server.url, 1, `after ${i}`)
      extra.push(Date.parse(job.finishedAt) - Date.parse(job.createdAt) - taskMs)
      engines.push(job.engine)
    }
    return {
      mode,
      firstJobExtraMs: extra[0],
      p50ExtraMs: percentile(extra, 50),
      maxExtraMs: Math.max(...extra),
      onReplicate: engines.filter((e) => e === 'replicate').length,
      falSubmitsAfter: mode === 'down' ? 0 : fal.submits.length,
    }
  } finally {
    await stop(server.child)
    if (mode !== 'down') await fal.close()
    await replicate.close()
  }
}

async function encode() {
  const rows = []
  for (const [label, width, height, format] of [
    ['1 MP JPEG', 1024, 1024, 'jpeg'],
    ['1 MP PNG', 1024, 1024, 'png'],
    ['4 MP JPEG', 2720, 1536, 'jpeg'],
  ] as const) {
    // Gradients with a texture: closer to a render than noise (which no codec compresses).
    const pixels = Buffer.alloc(width * height * 3)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3
        pixels[i] = (x * 255) / width
        pixels[i + 1] = (y * 255) / height
        pixels[i + 2] = (x ^ y) & 0xff
      }
    const file = await sharp(pixels, { raw: { width, height, channels: 3 } })
      .toFormat(format)
      .toBuffer()
    const time = async (fn: () => Promise<unknown>) => {
      const ms: number[] = []
      for (let i = 0; i < 12; i++) {
        const t = performance.now()
        await fn()
        ms.push(performance.now() - t)
      }
      return percentile(ms.slice(2), 50)
    }
    const kept = await time(() =>
      encodeImage({ kind: 'encoded', data: file }, { format, quality: 90 }, { width, height }),
    )
    const reencoded = await time(() =>
      sharp(file)
        .toFormat(format, format === 'jpeg' ? { quality: 90 } : {})
        .toBuffer(),
    )
    rows.push({ image: label, keptMs: round(kept), reencodedMs: round(reencoded), savedMs: round(reencoded - kept) })
  }
  return rows
}

try {
  if (PART === 'all' || PART === 'added') {
    for (const provider of PROVIDERS.filter((p) => !ONLY || ONLY.includes(p.name))) {
      console.log(JSON.stringify(await added(provider, false)))
      if (provider.push && process.env.BENCH_PUSH !== '0') console.log(JSON.stringify(await added(provider, true)))
    }
  }
  if (PART === 'all' || PART === 'failover')
    for (const mode of ['server_error', 'rate_limited', 'down'] as const)
      console.log(JSON.stringify(await failover(mode)))
  if (PART === 'all' || PART === 'encode') for (const row of await encode()) console.log(JSON.stringify(row))
} finally {
  await stopAll()
}
