import fs from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { isTerminal, type Job, type OutputFormat } from '../domain/job.js'
import { formatFrom, type GenerateOptions, jobFailed, type Made } from './generate-options.js'
import { CliExit, type CliIo } from './io.js'
import { type ProgressDisplay, progressDisplay } from './progress.js'
import { readSse } from './sse.js'

/** `generate --server`: the job runs on a fluxhost server, over its native API. */
export async function generateRemote(prompt: string, opts: GenerateOptions, io: CliIo): Promise<Made> {
  const base = opts.server!.replace(/\/+$/, '')
  if (!opts.key) throw new CliExit(2, '--server needs --key')
  const headers: Record<string, string> = { authorization: `Bearer ${opts.key}` }
  if (opts.simulate) headers['x-fluxhost-simulate'] = opts.simulate
  const body = {
    model: opts.model,
    prompt,
    ...(opts.width !== undefined ? { width: opts.width } : {}),
    ...(opts.height !== undefined ? { height: opts.height } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    numImages: opts.numImages,
    outputFormat: formatFrom(opts),
    outputQuality: opts.quality,
    ...(opts.imagePrompt
      ? { imagePrompt: { data: (await fs.readFile(opts.imagePrompt)).toString('base64'), strength: opts.strength } }
      : {}),
  }
  const created = await request(`${base}/api/jobs`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const id = (created as { id: string }).id
  const bar = progressDisplay(io, 'generating')
  const controller = new AbortController()
  const removeSignal = io.onSignal(() => {
    controller.abort()
    void fetch(`${base}/api/jobs/${id}/cancel`, { method: 'POST', headers }).catch(() => undefined)
  })
  try {
    const done = await follow(base, id, headers, bar, controller.signal)
    bar.stop()
    if (done.state !== 'succeeded') throw jobFailed(done)
    const images: Buffer[] = []
    for (const image of done.result?.images ?? []) {
      const response = await fetch(image.url)
      if (!response.ok) throw new CliExit(1, `downloading ${image.url}: HTTP ${response.status}`)
      images.push(Buffer.from(await response.arrayBuffer()))
    }
    const { width, height, seed, outputFormat } = done.request
    return { id, width, height, seed, engine: done.engine, format: outputFormat, images }
  } finally {
    bar.stop()
    removeSignal()
  }
}

/** The parts of the native job JSON the CLI reads. */
interface RemoteJob {
  id: string
  state: Job['state']
  progress: number
  engine: string | null
  error: { code: string; message: string } | null
  request: { width: number; height: number; seed: number; outputFormat: OutputFormat }
  result: { images: { url: string }[] } | null
}

/** Follows a job's server-sent events to its end; re-polls if the stream breaks. */
async function follow(
  base: string,
  id: string,
  headers: Record<string, string>,
  bar: ProgressDisplay,
  signal: AbortSignal,
): Promise<RemoteJob> {
  for (;;) {
    try {
      const response = await fetch(`${base}/api/jobs/${id}/events`, { headers, signal })
      if (response.ok && response.body) {
        for await (const event of readSse(response.body)) {
          if (event.event === 'progress')
            bar.update((JSON.parse(event.data) as { progress: number }).progress, 'running')
          if (event.event === 'state') {
            const job = JSON.parse(event.data) as RemoteJob
            bar.update(job.progress, job.state)
            if (isTerminal(job.state)) return job
          }
        }
      }
    } catch {
      if (signal.aborted) throw new CliExit(130, 'canceled')
    }
    const job = (await request(`${base}/api/jobs/${id}`, { headers })) as RemoteJob
    if (isTerminal(job.state)) return job
    await sleep(1000, undefined, { signal }).catch(() => undefined)
  }
}

async function request(url: string, init: RequestInit): Promise<unknown> {
  let response: Response
  try {
    response = await fetch(url, init)
  } catch (error) {
    throw new CliExit(1, `cannot reach ${url}: ${(error as Error).message}`)
  }
  const text = await response.text()
  if (!response.ok) {
    let detail = text.slice(0, 500)
    try {
      const parsed = JSON.parse(text) as { error?: { code: string; message: string } }
      if (parsed.error) detail = `${parsed.error.code}: ${parsed.error.message}`
    } catch {
      // Not JSON: show the text as it came.
    }
    throw new CliExit(1, `HTTP ${response.status}: ${detail}`)
  }
  return JSON.parse(text)
}
