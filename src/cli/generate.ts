import fs from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Command, InvalidArgumentError } from 'commander'
import { pino } from 'pino'
import { FluxhostError } from '../domain/errors.js'
import { isTerminal, type Job, OUTPUT_FORMATS, type OutputFormat, type Simulation } from '../domain/job.js'
import { getModel, isModelId, MODEL_IDS, type ModelId } from '../domain/models.js'
import { parseSimulation } from '../domain/simulate.js'
import { createFluxhost } from '../main.js'
import { LOCAL_KEY_ID } from '../services/keys.js'
import { CliExit, type CliIo } from './io.js'
import { type ProgressDisplay, progressDisplay } from './progress.js'
import { addSettingOptions, configFrom } from './settings-options.js'
import { readSse } from './sse.js'

/** What a generation produced, wherever it ran. */
interface Made {
  id: string
  width: number
  height: number
  seed: number
  engine: string | null
  format: OutputFormat
  images: Buffer[]
}

interface GenerateOptions {
  output?: string
  width?: number
  height?: number
  seed?: number
  format?: OutputFormat
  quality: number
  model: ModelId
  numImages: number
  imagePrompt?: string
  strength: number
  simulate?: string
  server?: string
  key?: string
}

const integer = (name: string) => (value: string) => {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be a whole number`)
  return Number(value)
}

/** `out.jpg` for one image; `out.jpg`, `out-2.jpg`, … for several. */
export function outputPaths(output: string, count: number): string[] {
  const ext = path.extname(output)
  const stem = output.slice(0, output.length - ext.length)
  return Array.from({ length: count }, (_, i) => (i === 0 ? output : `${stem}-${i + 1}${ext}`))
}

function simulationOption(value: string | undefined): Simulation | undefined {
  if (value === undefined) return undefined
  const parsed = parseSimulation(value)
  if ('issue' in parsed) throw new CliExit(2, `--simulate: ${parsed.issue.msg}`)
  return parsed.simulation
}

function formatFrom(opts: GenerateOptions): OutputFormat {
  if (opts.format) return opts.format
  const ext = opts.output ? path.extname(opts.output).slice(1).toLowerCase() : ''
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg'
  if (ext === 'png' || ext === 'webp') return ext
  return 'jpeg'
}

export function generateCommand(program: Command, io: CliIo): void {
  const command = program
    .command('generate')
    .description(
      'Generate an image and save it: in this process on the local data dir, or on a server with --server and --key.',
    )
    .argument('<prompt>', 'what to draw')
    .option('-o, --output <file>', 'where to save the image (default: fluxhost-<job id>.<format>)')
    .option('--width <px>', 'width, a multiple of 32 from 256 to 1440 (default 1024)', integer('--width'))
    .option('--height <px>', 'height, a multiple of 32 from 256 to 1440 (default 768)', integer('--height'))
    .option('--seed <n>', 'seed; the same seed and prompt give the same image', integer('--seed'))
    .option(
      '--format <format>',
      `${OUTPUT_FORMATS.join(', ')} (default: from --output's extension, else jpeg)`,
      (value: string) => {
        if (!(OUTPUT_FORMATS as readonly string[]).includes(value))
          throw new InvalidArgumentError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}`)
        return value as OutputFormat
      },
    )
    .option('--quality <0-100>', 'jpeg/webp quality', integer('--quality'), 90)
    .option(
      '--model <id>',
      `model: ${MODEL_IDS.join(', ')}`,
      (value: string) => {
        if (!isModelId(value)) throw new InvalidArgumentError(`--model must be one of ${MODEL_IDS.join(', ')}`)
        return value
      },
      MODEL_IDS[0],
    )
    .option('--num-images <n>', 'images to make, 1–4', integer('--num-images'), 1)
    .option('--image-prompt <file>', 'an image (jpeg, png, webp, gif) to guide the picture')
    .option(
      '--strength <0-1>',
      'how closely to follow --image-prompt',
      (value: string) => {
        const n = Number(value)
        if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('--strength must be a number from 0 to 1')
        return n
      },
      0.5,
    )
    .option('--simulate <what>', 'failure injection, as X-Fluxhost-Simulate (e.g. slow=3000, error)')
    .option('--server <url>', 'generate on this fluxhost server instead of in this process')
    .option('--key <key>', 'API key for --server')
  addSettingOptions(command, ['dataDir', 'previewSteps', 'workerConcurrency', 'allowSimulate', 'prices']).action(
    async (prompt: string, opts: GenerateOptions & Record<string, unknown>) => {
      if (opts.imagePrompt !== undefined && !(await fs.stat(opts.imagePrompt).catch(() => undefined))) {
        throw new CliExit(2, `--image-prompt: no such file ${opts.imagePrompt}`)
      }
      simulationOption(opts.simulate)
      const made = opts.server ? await generateRemote(prompt, opts, io) : await generateLocal(prompt, opts, io)
      const ext = made.format === 'jpeg' ? 'jpg' : made.format
      const files = outputPaths(opts.output ?? `fluxhost-${made.id.slice(-12)}.${ext}`, made.images.length)
      for (const [i, data] of made.images.entries()) {
        await fs.mkdir(path.dirname(path.resolve(files[i]!)), { recursive: true })
        await fs.writeFile(files[i]!, data)
      }
      io.stdout.write(`${files.join('\n')}\n`)
      io.stderr.write(`job ${made.id}: ${made.width}x${made.height}, seed ${made.seed}, engine ${made.engine}\n`)
    },
  )
}

async function generateLocal(
  prompt: string,
  opts: GenerateOptions & Record<string, unknown>,
  io: CliIo,
): Promise<Made> {
  const config = configFrom(io, opts)
  const fluxhost = await createFluxhost(config, {
    http: false,
    worker: true,
    workerKeyId: LOCAL_KEY_ID,
    logger: pino({ level: 'warn' }, io.stderr),
  })
  const bar = progressDisplay(io, 'generating')
  let removeSignal = () => {}
  try {
    const apiKey = await fluxhost.services.keys.localKey()
    await fluxhost.start()
    const model = getModel(opts.model)
    const job = await fluxhost.services.jobs.create({
      apiKey,
      dialect: 'cli',
      request: {
        model: opts.model,
        prompt,
        width: opts.width ?? model.size.defaultWidth,
        height: opts.height ?? model.size.defaultHeight,
        seed: opts.seed,
        numImages: opts.numImages,
        promptUpsampling: false,
        raw: false,
        safetyTolerance: 2,
        safetyChecker: true,
        output: { format: formatFrom(opts), quality: opts.quality },
        simulate: simulationOption(opts.simulate),
      },
      imagePrompt: opts.imagePrompt
        ? { source: { data: await fs.readFile(opts.imagePrompt) }, strength: opts.strength, loc: ['--image-prompt'] }
        : undefined,
    })
    const unsubscribe = fluxhost.services.jobs.subscribe(job.id, (event) => {
      if (event.type === 'progress') bar.update(event.progress, 'running')
    })
    removeSignal = io.onSignal(() => void fluxhost.services.jobs.cancel(job.id, apiKey).catch(() => undefined))
    const done = await fluxhost.services.jobs.wait(job.id, apiKey)
    unsubscribe()
    bar.update(done.state === 'succeeded' ? 1 : done.progress, done.state)
    bar.stop()
    if (done.state !== 'succeeded') throw jobFailed(done)
    const images: Buffer[] = []
    for (const image of done.result.images) {
      const data = await fluxhost.blobs.read(image.key)
      if (!data) throw new CliExit(1, `image ${image.key} is missing from the data dir`)
      images.push(data)
    }
    const { width, height, seed, output } = done.request
    return { id: done.id, width, height, seed, engine: done.engine, format: output.format, images }
  } catch (error) {
    bar.stop()
    if (error instanceof FluxhostError) throw new CliExit(1, `${error.code}: ${error.message}${issuesText(error)}`)
    throw error
  } finally {
    removeSignal()
    await fluxhost.close(0)
  }
}

async function generateRemote(prompt: string, opts: GenerateOptions, io: CliIo): Promise<Made> {
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

function jobFailed(job: Pick<Job, 'id' | 'state' | 'error'>): CliExit {
  return new CliExit(1, `job ${job.id} ${job.state}${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}`)
}

function issuesText(error: FluxhostError): string {
  return error.issues.length > 1 ? `\n${error.issues.map((i) => `  ${i.loc.join('.')}: ${i.msg}`).join('\n')}` : ''
}
