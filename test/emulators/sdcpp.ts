import http from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import { createChanges } from './changes.js'

/** What the emulator does with one submit (decided by the test, from the request body). */
export interface SdcppScript {
  /** Answer the submit with this status (429 queue full, 400, 500, …) instead of accepting it. */
  submitStatus?: number
  submitHeaders?: Record<string, string>
  /** The refusal's body (default `{error: "emulated <status>"}`). */
  submitBody?: unknown
  /** Queue the job, then cut the connection instead of answering the submit (an answer lost). */
  dropSubmit?: boolean
  /** The job's first polls answer 503 (a blip between fluxhost and sd-server). */
  pollErrors?: number
  /** How the job ends; default completed. */
  outcome?: 'completed' | 'failed'
  /** Steps reported while generating (default 4), each `stepMs` long. */
  steps?: number
  stepMs?: number
  /** Forget the job once it is generating: polls then get 410 Gone (as after its TTL). */
  lose?: boolean
}

interface Job {
  id: string
  body: any
  script: SdcppScript
  status: 'queued' | 'generating' | 'completed' | 'failed' | 'cancelled'
  step: number
  created: number
  started: number | null
  completed: number | null
  result: unknown
  error: unknown
  cancel?: () => void
  /** 503s still owed to its polls (SdcppScript.pollErrors). */
  blips: number
  /** Epoch ms: accepted, started generating, finished. */
  createdMs: number
  startedMs?: number
  endedMs?: number
}

/**
 * stable-diffusion.cpp's sd-server, native async API, as examples/server/api.md describes it
 * (api-anchors.md §5): `POST /sdcpp/v1/img_gen` → 202 `{id, kind, status, created, poll_url}`
 * (429 when its queue is full); `GET /sdcpp/v1/jobs/{id}` → the job (404 unknown, 410 expired);
 * `POST /sdcpp/v1/jobs/{id}/cancel`; `GET /sdcpp/v1/capabilities`. One job generates at a time.
 */
export async function startSdcppEmulator(
  options: { stepMs?: number; maxQueue?: number; script?: (body: any, n: number) => SdcppScript } = {},
) {
  const jobs = new Map<string, Job>()
  const gone = new Set<string>()
  const order: Job[] = []
  const submits: any[] = []
  /** Every submit with its path and headers, as the conformance suite reads them. */
  const received: { path: string; body: any; headers: http.IncomingHttpHeaders }[] = []
  const cancels: string[] = []
  let generating: Job | undefined
  let next = 0
  let maxInQueue = 0
  let closed = false
  const { changed, until } = createChanges('sd-server')
  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
  const inQueue = () => order.filter((j) => j.status === 'queued' || j.status === 'generating').length

  const run = async () => {
    if (generating) return
    while (!closed && (generating = order.find((j) => j.status === 'queued'))) {
      const job = generating
      job.status = 'generating'
      job.startedMs = Date.now()
      job.started = Math.floor(job.startedMs / 1000)
      changed()
      const steps = job.script.steps ?? 4
      let canceled = false
      for (job.step = 0; job.step < steps && !canceled; ) {
        await new Promise<void>((done) => {
          const timer = setTimeout(done, job.script.stepMs ?? options.stepMs ?? 5)
          job.cancel = () => {
            canceled = true
            clearTimeout(timer)
            done()
          }
        })
        if (!canceled) job.step++
        changed()
      }
      if (canceled) {
        job.status = 'cancelled'
        job.error = { code: 'cancelled', message: 'job cancelled by client' }
      } else if (job.script.outcome === 'failed') {
        job.status = 'failed'
        job.error = { code: 'generation_failed', message: 'generate_image returned empty results' }
      } else {
        const images = []
        for (let i = 0; i < (job.body.batch_count ?? 1); i++) {
          const png = await sharp({
            create: {
              width: job.body.width ?? 512,
              height: job.body.height ?? 512,
              channels: 3,
              background: { r: 90, g: (job.body.seed * 13 + i * 40) % 256, b: 60 },
            },
          })
            .png()
            .toBuffer()
          images.push({ index: i, b64_json: png.toString('base64') })
        }
        job.status = 'completed'
        job.result = { output_format: 'png', images }
      }
      job.endedMs = Date.now()
      job.completed = Math.floor(job.endedMs / 1000)
      if (job.script.lose) {
        jobs.delete(job.id)
        gone.add(job.id)
      }
      changed()
    }
  }

  const view = (job: Job) => ({
    id: job.id,
    kind: 'img_gen',
    status: job.status,
    created: job.created,
    started: job.started,
    completed: job.completed,
    queue_position: job.status === 'queued' ? order.filter((j) => j.status === 'queued').indexOf(job) + 1 : 0,
    // Newer sd-server builds report step counters while generating.
    ...(job.status === 'generating' ? { progress_step: job.step, progress_steps: job.script.steps ?? 4 } : {}),
    result: job.result,
    error: job.error,
  })

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
      if (req.method === 'GET' && url.pathname === '/sdcpp/v1/capabilities') {
        return json(res, 200, {
          model: {
            name: 'flux1-schnell-q8_0.gguf',
            stem: 'flux1-schnell-q8_0',
            path: '/models/flux1-schnell-q8_0.gguf',
          },
          current_mode: 'img_gen',
          supported_modes: ['img_gen'],
          limits: {
            min_width: 64,
            max_width: 4096,
            min_height: 64,
            max_height: 4096,
            max_batch_count: 8,
            max_queue_size: options.maxQueue ?? 64,
          },
          features_by_mode: { img_gen: { init_image: true, cancel_queued: true, cancel_generating: true } },
        })
      }
      if (req.method === 'POST' && url.pathname === '/sdcpp/v1/img_gen') {
        let body: Record<string, unknown>
        try {
          body = JSON.parse(Buffer.concat(chunks).toString())
        } catch {
          return json(res, 400, { error: 'invalid JSON body' })
        }
        submits.push(body)
        received.push({ path: url.pathname, body, headers: req.headers })
        const script = options.script?.(body, submits.length - 1) ?? {}
        if (script.submitStatus) {
          const refusal = script.submitBody ?? { error: `emulated ${script.submitStatus}` }
          return json(res, script.submitStatus, refusal, script.submitHeaders)
        }
        if (typeof body.prompt !== 'string' || body.prompt === '')
          return json(res, 400, { error: 'prompt is required' })
        if (inQueue() >= (options.maxQueue ?? 64)) return json(res, 429, { error: 'job queue is full' })
        const id = `job_${String(++next).padStart(6, '0')}`
        const job: Job = {
          id,
          body,
          script,
          status: 'queued',
          step: 0,
          createdMs: Date.now(),
          created: Math.floor(Date.now() / 1000),
          started: null,
          completed: null,
          result: null,
          error: null,
          blips: script.pollErrors ?? 0,
        }
        jobs.set(id, job)
        order.push(job)
        maxInQueue = Math.max(maxInQueue, inQueue())
        void run()
        changed()
        if (script.dropSubmit) return req.socket.destroy()
        return json(res, 202, {
          id,
          kind: 'img_gen',
          status: 'queued',
          created: job.created,
          poll_url: `/sdcpp/v1/jobs/${id}`,
        })
      }
      const match = /^\/sdcpp\/v1\/jobs\/([^/]+)(\/cancel)?$/.exec(url.pathname)
      if (match) {
        const id = decodeURIComponent(match[1]!)
        if (gone.has(id)) return json(res, 410, { error: 'job expired' })
        const job = jobs.get(id)
        if (!job) return json(res, 404, { error: 'job not found' })
        if (req.method === 'GET' && !match[2] && job.blips > 0) {
          job.blips--
          return json(res, 503, { error: 'emulated 503' })
        }
        if (req.method === 'GET' && !match[2]) return json(res, 200, view(job))
        if (req.method === 'POST' && match[2]) {
          cancels.push(id)
          if (job.status === 'queued') {
            job.status = 'cancelled'
            job.error = { code: 'cancelled', message: 'job cancelled by client' }
          } else if (job.status === 'generating') job.cancel?.()
          else return json(res, 409, { error: 'job already finished' })
          changed()
          return json(res, 200, view(job))
        }
      }
      json(res, 404, { error: 'not found' })
    })
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    submits,
    received,
    cancels,
    jobs: order,
    maxInQueue: () => maxInQueue,
    inQueue,
    until,
    async close() {
      // Nothing starts after this: a queued job that never ends (a hang) would keep timers alive.
      closed = true
      for (const job of order) job.cancel?.()
      server.closeAllConnections()
      await new Promise<void>((done) => server.close(() => done()))
    },
  }
}
