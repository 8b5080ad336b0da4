import type { ModelId } from '../../domain/models.js'
import type { EngineTask } from '../engine.js'
import { EngineError } from '../engine-error.js'

/** Apiframe's model names (its OpenAPI `GenerateImageRequest` variants), by fluxhost's model id. */
const MODEL_NAMES: Partial<Record<ModelId, string>> = {
  'flux-pro-1.1': 'flux-1.1-pro',
  'flux-pro-1.1-ultra': 'flux-1.1-pro-ultra',
}

export interface ApiframeRequest {
  /** The `POST /v2/images/generate` body for the first image (later ones add 1 to the seed each). */
  body: { model: string; prompt: string; fluxParams: Record<string, unknown> }
  /** fluxhost/BFL field names Apiframe cannot honour for this task. */
  notHonoured: string[]
}

/**
 * A task as Apiframe v2's request (its published OpenAPI: `fluxParams` allows no other keys).
 * flux-1.1-pro gets width and height without an aspect ratio, as Apiframe's SDK smoke test
 * sends them (how the two interact is not documented); ultra gets its aspect ratio.
 */
export function apiframeRequest(task: EngineTask): ApiframeRequest {
  const model = MODEL_NAMES[task.model]
  if (!model) throw new EngineError('invalid', `Apiframe does not serve ${task.model} here`)
  const notHonoured: string[] = []
  const skip = (field: string, asked: boolean) => {
    if (asked) notHonoured.push(field)
  }
  // v2 has no safety_tolerance (v1 had): Apiframe applies its own, taken to be BFL's default 2.
  skip('safety_tolerance', task.safetyTolerance !== 2)
  // fluxParams.image_prompt is a URL only, and fluxhost has no public URL for the stored bytes.
  skip('image_prompt', task.imagePrompt !== undefined)
  skip('steps', task.steps !== undefined)
  skip('guidance', task.guidance !== undefined)
  const ultra = task.model === 'flux-pro-1.1-ultra'
  // raw is BFL's ultra field; Apiframe's shared fluxParams would take it for 1.1 pro too.
  skip('raw', task.raw && !ultra)
  const fluxParams = {
    ...(ultra
      ? { aspect_ratio: task.aspectRatio ?? ratioOf(task.width, task.height), raw: task.raw }
      : { width: task.width, height: task.height }),
    output_format: task.output.format === 'jpeg' ? 'jpg' : task.output.format,
    output_quality: Math.round(task.output.quality),
    seed: task.seed,
    prompt_upsampling: task.promptUpsampling,
  }
  return { body: { model, prompt: task.prompt, fluxParams }, notHonoured }
}

/** `2720×1536` → `85:48`, for ultra tasks that came with a size instead of a ratio. */
function ratioOf(width: number, height: number): string {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))
  const d = gcd(width, height)
  return `${width / d}:${height / d}`
}
