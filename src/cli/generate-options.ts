import path from 'node:path'
import { InvalidArgumentError } from 'commander'
import type { FluxhostError } from '../domain/errors.js'
import type { Job, OutputFormat, Simulation } from '../domain/job.js'
import type { ModelId } from '../domain/models.js'
import { parseSimulation } from '../domain/simulate.js'
import { CliExit } from './io.js'

/** What a generation produced, wherever it ran. */
export interface Made {
  id: string
  width: number
  height: number
  seed: number
  engine: string | null
  format: OutputFormat
  images: Buffer[]
}

export interface GenerateOptions {
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

export const integer = (name: string) => (value: string) => {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be a whole number`)
  return Number(value)
}

/** `out.jpg` for one image; `out.jpg`, `out-2.jpg`, … for several. */
export function outputPaths(output: string, count: number): string[] {
  const ext = path.extname(output)
  const stem = output.slice(0, output.length - ext.length)
  return Array.from({ length: count }, (_, i) => (i === 0 ? output : `${stem}-${i + 1}${ext}`))
}

export function simulationOption(value: string | undefined): Simulation | undefined {
  if (value === undefined) return undefined
  const parsed = parseSimulation(value)
  if ('issue' in parsed) throw new CliExit(2, `--simulate: ${parsed.issue.msg}`)
  return parsed.simulation
}

export function formatFrom(opts: GenerateOptions): OutputFormat {
  if (opts.format) return opts.format
  const ext = opts.output ? path.extname(opts.output).slice(1).toLowerCase() : ''
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg'
  if (ext === 'png' || ext === 'webp') return ext
  return 'jpeg'
}

export function jobFailed(job: Pick<Job, 'id' | 'state' | 'error'>): CliExit {
  return new CliExit(1, `job ${job.id} ${job.state}${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}`)
}

export function issuesText(error: FluxhostError): string {
  return error.issues.length > 1 ? `\n${error.issues.map((i) => `  ${i.loc.join('.')}: ${i.msg}`).join('\n')}` : ''
}
