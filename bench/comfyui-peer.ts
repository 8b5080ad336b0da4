// fluxhost's comfyui engine against a popular peer, SaladTechnologies/comfyui-api, on one ComfyUI
// emulator (test/emulators/comfyui.ts: one prompt at a time, BENCH_LOCAL_STEPS × BENCH_LOCAL_STEP_MS
// plus writing its 512×512 PNG, ~108 ms). Reports; asserts nothing.
//
// The peer: github.com/SaladTechnologies/comfyui-api at commit 4dfc930 ("Build api image (#167)"),
// version 1.18.0; not on npm. Taken from the local mirror (`git archive` of src/, package.json,
// package-lock.json, tsconfig.json) into $TMPDIR/comfyui-api-peer-4dfc930, or BENCH_PEER_DIR (a checkout
// of it); `npm ci --ignore-scripts` (its postinstall only adds sharp for wasm32, for its pkg binary;
// the native sharp from the lockfile loads without scripts), built with its own `tsc`, run as
// `node dist/src/index.js` with CMD=true (it always launches ComfyUI itself; `true` exits 0 at once,
// which it accepts), DIRECT_ADDRESS/COMFYUI_PORT_HOST at the emulator, LOG_LEVEL=warn (fluxhost's
// level too), its folders under the scratch folder (models/ holding empty files named as the
// emulator's models: it lists them at startup). Per job it validates the body (zod), rewrites
// SaveImage's filename_prefix, POSTs /prompt, reads /history at once (then every 1 s), follows its
// websocket; on execution_success reads /history again, reads the output file from ComfyUI's
// output folder on its own disk, deletes it, and answers with the image in base64. It stores nothing.
//
// fluxhost: `fluxhost serve` (the built dist/: run `npm run build` first) with FLUXHOST_COMFYUI_URL
// at the same emulator and its built-in schnell workflow, the safety checker off (the peer has
// none), SQLite and files in a scratch data folder. Per job it writes the job to its database,
// a worker claims it, fills the workflow, POSTs /prompt, follows its websocket, reads the file
// with /view (its history entry deleted later, with others), checks it whole and keeps it (PNG
// asked, as the peer answers ComfyUI's PNG) or re-encodes it (the `-jpeg` side: fluxhost's
// default format), stores the file and the finished record durably, then answers the client.
// Ways in: `native` (POST /api/jobs, then GET /api/jobs/:id/events until the terminal state) and
// `sync` (POST /v1/images/generations with response_format b64_json: one request, the image in
// base64 in the answer, as the peer answers). BENCH_SIDES=fluxhost-sync,… keeps only those
// fluxhost sides (the peer always runs); BENCH_NODE_OPTIONS is given to fluxhost's process (a
// --require that profiles it, say).
//
// Emulator gaps (test/emulators/comfyui.ts lacks them; filled here in-process, no extra hop):
// the peer's startup pings `GET /` and lists `GET /models` and `GET /models/{folder}` (it exits
// otherwise), and it reads outputs from disk, so every file the emulator makes is also written
// under the scratch COMFY_HOME (output/, temp/) before the prompt ends: inside the emulator's
// own time, for both sides.
//
// Method: concurrency 1, BENCH_JOBS jobs per side (default 200) after BENCH_WARMUP each, in rounds
// of BENCH_ROUND, the sides' order rotating every round so noise hits all. Added time = the
// job's wall time at the client less the emulator's own time for its prompt (accepted → history
// written, from the emulator's records), split where the emulator received the prompt (before /
// after; whole ms, the emulator's clock being Date.now()). CPU ms per job: the server process's utime+stime
// (/proc/<pid>/stat) over its blocks. Upstream requests per job: HTTP requests the emulator got.
//
//   npm run build && node --import tsx bench/comfyui-peer.ts
import { type ChildProcess, execSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { BUILT_IN_WORKFLOWS, fillGraph } from '../src/engines/comfyui/workflows.js'
import { startComfyEmulator } from '../test/emulators/comfyui.js'
import { fluxhost, json, KEY, percentile, round, stop, stopAll } from './lib.js'

const JOBS = Number(process.env.BENCH_JOBS ?? 200)
const ROUND = Number(process.env.BENCH_ROUND ?? 20)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10)
const STEPS = Number(process.env.BENCH_LOCAL_STEPS ?? 4)
const STEP_MS = Number(process.env.BENCH_LOCAL_STEP_MS ?? 25)
const PEER_COMMIT = '4dfc930b064d1018eda0a529db420ce3f5b66870'
const MIRROR = process.env.BENCH_PEER_MIRROR ?? '/work/.mirror/SaladTechnologies+comfyui-api/repo'
const PEER_DIR = process.env.BENCH_PEER_DIR ?? path.join(os.tmpdir(), 'comfyui-api-peer-4dfc930')
/** What the emulated ComfyUI has in its model folders, for the peer's GET /models. */
const MODELS: Record<string, string[]> = {
  diffusion_models: ['flux1-schnell.safetensors', 'flux1-dev.safetensors'],
  text_encoders: ['clip_l.safetensors', 't5xxl_fp16.safetensors'],
  vae: ['ae.safetensors'],
  checkpoints: ['none.safetensors'],
}

/** The peer, from the mirror at PEER_COMMIT unless BENCH_PEER_DIR has it: installed and built. */
function preparePeer(): string {
  const run = (command: string) => execSync(command, { cwd: PEER_DIR, stdio: ['ignore', 'ignore', 'inherit'] })
  if (!fs.existsSync(path.join(PEER_DIR, 'package.json'))) {
    fs.mkdirSync(PEER_DIR, { recursive: true })
    const files = 'src package.json package-lock.json tsconfig.json README.md LICENSE'
    run(`git -C '${MIRROR}' archive ${PEER_COMMIT} ${files} | tar -x -C .`)
  }
  if (!fs.existsSync(path.join(PEER_DIR, 'node_modules'))) run('npm ci --ignore-scripts --no-audit --no-fund')
  if (!fs.existsSync(path.join(PEER_DIR, 'dist/src/index.js'))) run('node node_modules/typescript/bin/tsc')
  return PEER_DIR
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })

/** The emulator, with the routes the peer needs and its files also on disk under `home`. */
async function startEmulator(home: string) {
  const create = http.createServer
  let server: http.Server | undefined
  const capture = (...args: unknown[]) => (server = (create as (...a: unknown[]) => http.Server)(...args))
  ;(http as { createServer: unknown }).createServer = capture
  const emulator = await startComfyEmulator({ stepMs: STEP_MS, script: () => ({ steps: STEPS }) }).finally(() => {
    ;(http as { createServer: unknown }).createServer = create
  })
  const handle = server!.listeners('request')[0] as http.RequestListener
  server!.removeAllListeners('request')
  server!.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const at = (req.url ?? '/').split('?')[0]!.replace(/^\/api(?=\/)/, '')
    const answer = (body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (req.method === 'GET' && at === '/')
      return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>')
    if (req.method === 'GET' && at === '/models') return void answer(Object.keys(MODELS))
    if (req.method === 'GET' && at.startsWith('/models/')) return void answer(MODELS[at.slice('/models/'.length)] ?? [])
    handle(req, res)
  })
  const set = emulator.files.set.bind(emulator.files)
  emulator.files.set = (key: string, data: Buffer) => {
    const file = path.join(home, key)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, data)
    return set(key, data)
  }
  return emulator
}

/** The peer's server on the emulator; resolves once its /ready answers 200. */
async function startPeer(dir: string, emulatorUrl: string, home: string) {
  const port = await freePort()
  for (const sub of ['output', 'input', 'workflows', 'cache']) fs.mkdirSync(path.join(home, sub), { recursive: true })
  for (const [folder, names] of Object.entries(MODELS)) {
    fs.mkdirSync(path.join(home, 'models', folder), { recursive: true })
    for (const name of names) fs.writeFileSync(path.join(home, 'models', folder, name), '')
  }
  const dirs = { OUTPUT_DIR: 'output', INPUT_DIR: 'input', WORKFLOW_DIR: 'workflows', CACHE_DIR: 'cache' }
  const env = { CMD: 'true', DIRECT_ADDRESS: '127.0.0.1', COMFYUI_PORT_HOST: new URL(emulatorUrl).port }
  const child = spawn(process.execPath, ['dist/src/index.js'], {
    cwd: dir,
    env: {
      ...process.env,
      ...env,
      ...{ HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', COMFY_HOME: home },
      ...Object.fromEntries(Object.entries(dirs).map(([name, sub]) => [name, path.join(home, sub)])),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (c: Buffer) => (out = (out + c).slice(-4000)))
  const url = `http://127.0.0.1:${port}`
  for (let tries = 0; tries < 300; tries++) {
    if (child.exitCode !== null) throw new Error(`comfyui-api exited with ${child.exitCode}: ${out}`)
    if ((await fetch(`${url}/ready`).catch(() => undefined))?.status === 200) return { child, url }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  child.kill()
  throw new Error(`comfyui-api not ready after 30 s: ${out}`)
}

/** fluxhost's built-in schnell txt2img graph, filled in, with SaveImage (the peer needs a filename_prefix). */
function peerGraph(prompt: string, seed: number) {
  const values = { prompt, seed, width: 512, height: 512, steps: STEPS, guidance: 3.5, batch_size: 1 }
  const graph = fillGraph(BUILT_IN_WORKFLOWS.schnell.txt2img, { ...values, image: '', denoise: 1, filename_prefix: '' })
  graph['9'] = { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'ComfyUI' } }
  return graph
}

interface Side {
  name: string
  via: string
  pid: number
  /** Runs one job to its end; throws unless it succeeded. */
  once(text: string, seed: number): Promise<void>
}

const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  }
  const res = await fetch(url, init)
  return { status: res.status, body: (await res.json()) as any }
}
const check = (ok: boolean, what: string, answer: unknown) => {
  if (!ok) throw new Error(`${what}: ${JSON.stringify(answer).slice(0, 300)}`)
}

type Server = { child: ChildProcess; url: string }
const makeSides = (peer: Server, server: Server): Side[] => [
  {
    name: 'comfyui-api@4dfc930',
    via: 'POST /prompt, images in base64 in the answer',
    pid: peer.child.pid!,
    async once(text, seed) {
      const answer = await post(`${peer.url}/prompt`, { prompt: peerGraph(text, seed) })
      check(answer.status === 200 && answer.body.images?.[0]?.length > 0, 'peer answered', answer)
    },
  },
  {
    name: 'fluxhost-native',
    via: 'POST /api/jobs, then GET /api/jobs/:id/events to the terminal state',
    pid: server.child.pid!,
    async once(text, seed) {
      const body = JSON.stringify({ prompt: text, width: 512, height: 512, seed, outputFormat: 'png' })
      const created = await json(`${server.url}/api/jobs`, { method: 'POST', body })
      check(Boolean(created.id), 'create refused', created)
      const events = await fetch(`${server.url}/api/jobs/${created.id}/events`, { headers: { 'x-key': KEY } })
      const stream = await events.text()
      check(stream.includes('"state":"succeeded"'), `job ${created.id} ended`, stream.slice(-300))
    },
  },
  ...(['png', 'jpeg'] as const).map((format) => ({
    name: format === 'png' ? 'fluxhost-sync' : 'fluxhost-sync-jpeg',
    via: `POST /v1/images/generations, response_format b64_json, output_format ${format}`,
    pid: server.child.pid!,
    async once(text: string, seed: number) {
      const size = { width: 512, height: 512 }
      const asked = { response_format: 'b64_json', image_size: size, output_format: format }
      const body = { model: 'flux-pro/v1.1', prompt: text, seed, ...asked }
      const answer = await post(`${server.url}/v1/images/generations`, body, { authorization: `Bearer ${KEY}` })
      check(answer.status === 201 && answer.body.data?.[0]?.b64_json?.length > 0, 'sync answered', answer)
    },
  })),
]

const TICK_MS = 1000 / Number(execSync('getconf CLK_TCK').toString().trim() || 100)
/** A process's CPU time so far (user + system), in ms. */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS
}

async function main() {
  const peerDir = preparePeer()
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxhost-bench-peer-'))
  const home = path.join(scratch, 'comfy')
  const emulator = await startEmulator(home)
  let peer: Server | undefined
  try {
    peer = await startPeer(peerDir, emulator.url, home)
    const server = await fluxhost(path.join(scratch, 'fluxhost'), {
      FLUXHOST_COMFYUI_URL: emulator.url,
      FLUXHOST_SAFETY_CHECKER: '0',
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    })
    const only = process.env.BENCH_SIDES?.split(',')
    const sides = makeSides(peer, server).filter((side, i) => i === 0 || !only || only.includes(side.name))
    const heldFor = (text: string) => {
      const p = emulator.prompts.findLast((q) =>
        Object.values(q.graph).some((n) => n.class_type === 'CLIPTextEncode' && n.inputs.text === text),
      )
      if (!p?.endedAt) throw new Error(`no finished prompt for ${text}`)
      return p
    }
    let n = 0
    const job = async (side: Side) => {
      const text = `a harbour at dusk, ${side.name} ${++n}`
      const started = performance.now()
      await side.once(text, n)
      const wall = performance.now() - started
      const prompt = heldFor(text)
      // The emulator's clock is Date.now() (whole ms): before/after split, rounded.
      const before = prompt.receivedAt - (performance.timeOrigin + started)
      return {
        wall,
        held: prompt.endedAt! - prompt.receivedAt,
        before,
        after: wall - before - (prompt.endedAt! - prompt.receivedAt),
      }
    }
    for (const side of sides) for (let i = 0; i < WARMUP; i++) await job(side)
    const stats = sides.map(() => ({
      ...{ added: [] as number[], held: [] as number[], before: [] as number[], after: [] as number[] },
      ...{ wallMs: 0, cpuMs: 0, requests: 0 },
    }))
    for (let done = 0, r = 0; done < JOBS; done += ROUND, r++) {
      const count = Math.min(ROUND, JOBS - done)
      for (let k = 0; k < sides.length; k++) {
        const index = (k + r) % sides.length
        const side = sides[index]!
        const s = stats[index]!
        const [cpu0, requests0, t0] = [cpuMs(side.pid), emulator.requests.length, performance.now()]
        for (let i = 0; i < count; i++) {
          const { wall, held, before, after } = await job(side)
          s.added.push(wall - held)
          s.held.push(held)
          s.before.push(before)
          s.after.push(after)
        }
        s.wallMs += performance.now() - t0
        s.cpuMs += cpuMs(side.pid) - cpu0
        s.requests += emulator.requests.length - requests0
      }
    }
    const peerP50 = percentile(stats[0]!.added, 50)
    for (const [i, side] of sides.entries()) {
      const { added, held, before, after, wallMs, cpuMs, requests } = stats[i]!
      const at = (p: number) => percentile(added, p)
      const { name, via } = side
      const row = { part: 'comfyui-peer', side: name, via, jobs: added.length, concurrency: 1 }
      const per = (total: number) => round(total / added.length)
      const measured = {
        addedMs: { p50: at(50), p90: at(90), p99: at(99) },
        beforePromptMs: { p50: percentile(before, 50) },
        afterPromptMs: { p50: percentile(after, 50) },
        emulatorMs: { p50: percentile(held, 50) },
      }
      const rates = { jobsPerS: round(added.length / (wallMs / 1000)), cpuMsPerJob: per(cpuMs) }
      const versus = { addedP50MinusPeerMs: round(at(50) - peerP50) }
      console.log(JSON.stringify({ ...row, ...measured, ...rates, upstreamRequestsPerJob: per(requests), ...versus }))
    }
  } finally {
    if (peer) await stop(peer.child)
    await stopAll()
    await emulator.close()
    fs.rmSync(scratch, { recursive: true, force: true })
  }
}

await main()
