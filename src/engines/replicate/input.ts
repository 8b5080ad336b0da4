import type { ModelId } from '../../domain/models.js'
import type { EngineTask } from '../engine.js'
import { EngineError } from '../engine-error.js'

/** Replicate's official FLUX models (no version hash needed), by fluxhost's model id. */
const MODEL_PATHS: Partial<Record<ModelId, string>> = {
  'flux-pro-1.1': 'black-forest-labs/flux-1.1-pro',
  'flux-pro-1.1-ultra': 'black-forest-labs/flux-1.1-pro-ultra',
  'flux-dev': 'black-forest-labs/flux-dev',
}

/** The `aspect_ratio` enums of the model pages: ultra's and dev's (dev has no `custom`). */
const ULTRA_RATIOS = ['21:9', '16:9', '3:2', '4:3', '5:4', '1:1', '4:5', '3:4', '2:3', '9:16', '9:21']
const DEV_RATIOS = ['1:1', '16:9', '21:9', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '9:16', '9:21']

export interface ReplicateRequest {
  /** `black-forest-labs/flux-1.1-pro`: the create path is `/v1/models/{this}/predictions`. */
  model: string
  /** The prediction's `input`, for the first image (later ones add 1 to the seed each). */
  input: Record<string, unknown>
  /** fluxhost/BFL field names Replicate's model cannot honour for this task. */
  notHonoured: string[]
}

/**
 * A task as the input of Replicate's model (the model API pages: flux-1.1-pro takes a custom
 * size, ultra and dev only aspect ratios from an enum). What the model has no field for, or
 * takes only rounded, is listed in `notHonoured` rather than failing the job.
 */
export function replicateRequest(task: EngineTask): ReplicateRequest {
  const model = MODEL_PATHS[task.model]
  if (!model) throw new EngineError('invalid', `Replicate does not serve ${task.model} here`)
  const notHonoured: string[] = []
  const skip = (field: string, asked: boolean) => {
    if (asked) notHonoured.push(field)
  }
  // BFL's range is 0–6, Replicate's 1–6: 0 (strictest) becomes 1.
  const tolerance = Math.min(6, Math.max(1, Math.round(task.safetyTolerance)))
  const safety = () => {
    skip('safety_tolerance', tolerance !== task.safetyTolerance)
    return { safety_tolerance: tolerance }
  }
  const imagePrompt = task.imagePrompt ? { image_prompt: dataUri(task.imagePrompt.data) } : {}
  const format = task.output.format === 'jpeg' ? 'jpg' : task.output.format
  const common = { prompt: task.prompt, seed: task.seed }
  skip('steps', task.steps !== undefined && task.model !== 'flux-dev')
  skip('guidance', task.guidance !== undefined && task.model !== 'flux-dev')
  switch (task.model) {
    case 'flux-pro-1.1': {
      skip('raw', task.raw)
      // The model rounds a custom size to multiples of 32.
      skip('width', task.width % 32 !== 0)
      skip('height', task.height % 32 !== 0)
      const input = {
        ...common,
        aspect_ratio: 'custom',
        width: task.width,
        height: task.height,
        ...safety(),
        prompt_upsampling: task.promptUpsampling,
        output_format: format,
        output_quality: task.output.quality,
        ...imagePrompt,
      }
      return { model, input, notHonoured }
    }
    case 'flux-pro-1.1-ultra': {
      skip('prompt_upsampling', task.promptUpsampling)
      const asked = task.aspectRatio ?? ratioOf(task.width, task.height)
      const ratio = nearestRatio(asked, ULTRA_RATIOS)
      skip('aspect_ratio', ratio !== asked)
      // Ultra makes jpg or png and has no quality setting: webp is asked as png, which
      // fluxhost converts at the asked quality; jpg comes at Replicate's quality.
      const input = {
        ...common,
        aspect_ratio: ratio,
        raw: task.raw,
        ...safety(),
        output_format: format === 'webp' ? 'png' : format,
        ...imagePrompt,
        ...(task.imagePrompt ? { image_prompt_strength: task.imagePrompt.strength } : {}),
      }
      return { model, input, notHonoured }
    }
    case 'flux-dev': {
      // Replicate's flux-dev picks its own size from an aspect ratio and a megapixel count;
      // its `image` is image-to-image, not an image prompt (Redux), and it has a safety
      // checker but no tolerance.
      notHonoured.push('width', 'height')
      skip('image_prompt', task.imagePrompt !== undefined)
      skip('prompt_upsampling', task.promptUpsampling)
      skip('raw', task.raw)
      skip('safety_tolerance', task.safetyTolerance !== 2)
      const input = {
        ...common,
        aspect_ratio: nearestRatio(ratioOf(task.width, task.height), DEV_RATIOS),
        megapixels: task.width * task.height <= 0.5 * 1024 * 1024 ? '0.25' : '1',
        num_outputs: 1,
        ...(task.steps === undefined ? {} : { num_inference_steps: task.steps }),
        ...(task.guidance === undefined ? {} : { guidance: task.guidance }),
        output_format: format,
        output_quality: task.output.quality,
        // go_fast (the default) makes outputs differ for one seed.
        go_fast: false,
      }
      return { model, input, notHonoured }
    }
    default:
      throw new EngineError('invalid', `Replicate does not serve ${task.model} here`)
  }
}

/** `2720×1536` → `85:48`. */
export function ratioOf(width: number, height: number): string {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))
  const d = gcd(width, height)
  return `${width / d}:${height / d}`
}

/** The ratio of `choices` closest to `asked` (by log ratio, so 2:1 and 1:2 are as far from 1:1). */
function nearestRatio(asked: string, choices: readonly string[]): string {
  const log = (ratio: string) => {
    const [w, h] = ratio.split(':').map(Number)
    return Math.log((w ?? 1) / (h ?? 1))
  }
  const target = log(asked)
  let best = choices[0] ?? asked
  for (const choice of choices) if (Math.abs(log(choice) - target) < Math.abs(log(best) - target)) best = choice
  return best
}

/** Replicate takes a file input as a URL or a data URI; the stored bytes go as the latter. */
function dataUri(data: Buffer): string {
  return `data:${mimeOf(data)};base64,${data.toString('base64')}`
}

/** The type of an image fluxhost accepted as an input (jpeg, png, webp or gif), from its magic bytes. */
function mimeOf(data: Buffer): string {
  if (data[0] === 0xff && data[1] === 0xd8) return 'image/jpeg'
  if (data.subarray(0, 4).toString('latin1') === '\x89PNG') return 'image/png'
  if (data.subarray(0, 4).toString('latin1') === 'RIFF' && data.subarray(8, 12).toString('latin1') === 'WEBP')
    return 'image/webp'
  if (data.subarray(0, 3).toString('latin1') === 'GIF') return 'image/gif'
  return 'application/octet-stream'
}
