/** A fluxhost task in the shape of fal's model inputs (FluxProV11Input, FluxProV11UltraInput, FluxDevInput). */
import type { ModelId } from '../../domain/models.js'
import type { EngineTask } from '../engine.js'
import { EngineError } from '../engine-error.js'

/** fal's model ids: the submit path. Status, result and cancel take only owner/app (`fal-ai/flux-pro`). */
export const FAL_MODEL_IDS: Partial<Record<ModelId, string>> = {
  'flux-pro-1.1': 'fal-ai/flux-pro/v1.1',
  'flux-pro-1.1-ultra': 'fal-ai/flux-pro/v1.1-ultra',
  'flux-dev': 'fal-ai/flux/dev',
}

/** `fal-ai/flux-pro/v1.1` → `fal-ai/flux-pro`: where its requests are read and canceled. */
export function ownerApp(modelId: string): string {
  return modelId.split('/').slice(0, 2).join('/')
}

export interface FalInput {
  modelId: string
  body: Record<string, unknown>
  /** fluxhost field names the model cannot honour (EngineOutput.notHonoured). */
  notHonoured: string[]
}

/** fal's flux-dev has an on/off safety checker, no tolerance; BFL's default tolerance is what "on" stands for. */
const DEFAULT_TOLERANCE = 2

export function falInput(task: EngineTask): FalInput {
  const modelId = FAL_MODEL_IDS[task.model]
  if (!modelId) throw new EngineError('invalid', `fal does not serve ${task.model} here`)
  const notHonoured: string[] = []
  const skip = (field: string, asked: boolean) => {
    if (asked) notHonoured.push(field)
  }
  // Never sync_mode: its data URIs are not kept in fal's request history, and we download URLs.
  const body: Record<string, unknown> = {
    prompt: task.prompt,
    seed: task.seed,
    num_images: task.numImages,
    // fal makes jpeg and png; fluxhost converts png into webp.
    output_format: task.output.format === 'jpeg' ? 'jpeg' : 'png',
  }
  switch (task.model) {
    case 'flux-pro-1.1':
      body.image_size = { width: task.width, height: task.height }
      body.safety_tolerance = tolerance(task.safetyTolerance, notHonoured)
      body.enhance_prompt = task.promptUpsampling
      skip('raw', task.raw)
      skip('image_prompt', task.imagePrompt !== undefined)
      break
    case 'flux-pro-1.1-ultra':
      body.aspect_ratio = task.aspectRatio ?? aspectRatioOf(task.width, task.height)
      body.raw = task.raw
      body.safety_tolerance = tolerance(task.safetyTolerance, notHonoured)
      body.enhance_prompt = task.promptUpsampling
      if (task.imagePrompt) {
        // fal takes a URL; its docs allow a data URI in its place, and we hold only the bytes.
        body.image_url = dataUri(task.imagePrompt.data)
        body.image_prompt_strength = task.imagePrompt.strength
      }
      break
    case 'flux-dev':
      body.image_size = { width: task.width, height: task.height }
      if (task.steps !== undefined) body.num_inference_steps = task.steps
      if (task.guidance !== undefined) body.guidance_scale = task.guidance
      body.enable_safety_checker = true
      skip('safety_tolerance', task.safetyTolerance !== DEFAULT_TOLERANCE)
      skip('prompt_upsampling', task.promptUpsampling)
      skip('raw', task.raw)
      skip('image_prompt', task.imagePrompt !== undefined)
      break
    default: {
      const unreachable: never = task.model
      throw new EngineError('invalid', `fal does not serve ${String(unreachable)} here`)
    }
  }
  // Fields only BFL's flux-dev takes arrive on the pro models only by mistake; say so rather than drop them.
  if (task.model !== 'flux-dev') {
    skip('steps', task.steps !== undefined)
    skip('guidance', task.guidance !== undefined)
  }
  return { modelId, body, notHonoured }
}

/** BFL's 0–6 as fal's "1"–"6": fal has no 0, so the strictest it has stands in (and is reported). */
function tolerance(value: number, notHonoured: string[]): string {
  if (value < 1) notHonoured.push('safety_tolerance')
  return String(Math.min(6, Math.max(1, Math.round(value))))
}

/** `2720×1536` → `85:48`, for ultra tasks that came with a size instead of a ratio. */
function aspectRatioOf(width: number, height: number): string {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))
  const d = gcd(width, height)
  return `${width / d}:${height / d}`
}

function dataUri(data: Buffer): string {
  return `data:${mimeOf(data)};base64,${data.toString('base64')}`
}

/** The stored image prompt's type, from its first bytes. */
function mimeOf(data: Buffer): string {
  if (data.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))) return 'image/png'
  if (data[0] === 0xff && data[1] === 0xd8) return 'image/jpeg'
  if (data.subarray(0, 4).toString('latin1') === 'RIFF' && data.subarray(8, 12).toString('latin1') === 'WEBP')
    return 'image/webp'
  return 'application/octet-stream'
}
