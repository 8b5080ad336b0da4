import fs from 'node:fs/promises'
import path from 'node:path'
import { type Command, InvalidArgumentError } from 'commander'
import { pino } from 'pino'
import { FluxhostError } from '../domain/errors.js'
import { OUTPUT_FORMATS, type OutputFormat } from '../domain/job.js'
import { getModel, isModelId, MODEL_IDS } from '../domain/models.js'
import { createFluxhost } from '../main.js'
import { LOCAL_KEY_ID } from '../services/keys.js'
import {
  formatFrom,
  type GenerateOptions,
  integer,
  issuesText,
  jobFailed,
  type Made,
  outputPaths,
  simulationOption,
} from './generate-options.js'
import { generateRemote } from './generate-remote.js'
import { CliExit, type CliIo } from './io.js'
import { progressDisplay } from './progress.js'
import { addSettingOptions, configFrom } from './settings-options.js'

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
