import { validationError } from '../../../domain/errors.js'
import type { OutputFormat, WebhookTarget } from '../../../domain/job.js'
import { getModel, type ModelId } from '../../../domain/models.js'
import type { ImagePromptInput } from '../../../services/image-prompt.js'
import type { FluxParams, GenerateBody } from './schemas.js'
import { ASPECT_RATIOS, explicitSize, ratioSize, type SizeChoice } from './size.js'

const FORMATS: Record<NonNullable<FluxParams['output_format']>, OutputFormat> = {
  jpg: 'jpeg',
  jpeg: 'jpeg',
  png: 'png',
  webp: 'webp',
}

/** The defaults Apiframe's model page gives (its OpenAPI document has none). */
const DEFAULTS = { format: 'jpg', quality: 90, strength: 0.5 } as const

const loc = (...path: (string | number)[]) => ['body', ...path]

/**
 * The size: a `W:H` aspect ratio at about 1 MP (width/height then go unused, as the seeds
 * say, with a warning); `custom`, or no ratio with width/height, takes those; else 1:1.
 */
export function sizeOf(model: ModelId, params: FluxParams): SizeChoice & { ignored?: string } {
  const ratio = params.aspect_ratio
  const sides = params.width !== undefined || params.height !== undefined
  if (ratio === 'custom' || (ratio === undefined && sides)) return explicitSize(model, params.width, params.height)
  if (ratio === undefined) return { ...ASPECT_RATIOS['1:1']! }
  const size = ratioSize(model, ratio)
  if (!size)
    throw validationError([
      {
        loc: loc('fluxParams', 'aspect_ratio'),
        msg: 'Input should be W:H with whole numbers from 1 to 10000, or custom',
        type: 'value_error',
        input: ratio,
      },
    ])
  return sides
    ? { ...size, ignored: `fluxParams.width/height: not used with aspect_ratio ${ratio} (use aspect_ratio custom)` }
    : size
}

/** The one reference image flux-1.1-pro takes: `image_prompt`, or a single `input_images` item. */
export function imagePromptOf(params: FluxParams): ImagePromptInput | undefined {
  const images = params.input_images ?? []
  const refuse = (at: (string | number)[], msg: string) =>
    validationError([{ loc: at, msg, type: 'value_error', input: images.length }])
  if (images.length > 1)
    throw refuse(
      loc('fluxParams', 'input_images'),
      `${getModel('flux-pro-1.1').name} takes one reference image here: send one item, or image_prompt`,
    )
  if (images.length === 1 && params.image_prompt !== undefined)
    throw refuse(
      loc('fluxParams', 'input_images'),
      'Send the reference image as image_prompt or input_images, not both',
    )
  const url = params.image_prompt ?? images[0]
  if (url === undefined) return undefined
  return {
    source: { url },
    strength: params.image_prompt_strength ?? DEFAULTS.strength,
    loc: params.image_prompt === undefined ? loc('fluxParams', 'input_images', 0) : loc('fluxParams', 'image_prompt'),
  }
}

/**
 * The webhook: `webhookUrl` as published, or the seeds' `webhook_url` (both: they must agree),
 * with `webhookEvents`, which needs one of them.
 */
export function webhookOf(
  body: GenerateBody,
  base: string,
): { target: WebhookTarget; loc: (string | number)[] } | undefined {
  const { webhookUrl, webhook_url: seedUrl, webhookEvents } = body
  if (webhookUrl !== undefined && seedUrl !== undefined && webhookUrl !== seedUrl)
    throw validationError([
      { loc: loc('webhook_url'), msg: 'webhook_url differs from webhookUrl: send one', type: 'value_error' },
    ])
  const url = webhookUrl ?? seedUrl
  if (url === undefined) {
    if (webhookEvents === undefined) return undefined
    throw validationError([
      { loc: loc('webhookEvents'), msg: 'webhookEvents needs a webhookUrl to send them to', type: 'value_error' },
    ])
  }
  return {
    target: { url, base, ...(webhookEvents ? { events: [...webhookEvents] } : {}) },
    loc: loc(webhookUrl === undefined ? 'webhook_url' : 'webhookUrl'),
  }
}

/** The fields Apiframe publishes for flux-1.1-pro that FLUX 1.1 [pro] has no setting for: taken, and reported. */
export function unusedFields(params: FluxParams, webhook: WebhookTarget | undefined): string[] {
  const name = getModel('flux-pro-1.1').name
  const warnings: string[] = []
  if (params.guidance !== undefined) warnings.push(`fluxParams.guidance: ${name} has no guidance setting; not used`)
  if (params.steps !== undefined) warnings.push(`fluxParams.steps: ${name} has no steps setting; not used`)
  if (params.go_fast !== undefined) warnings.push('fluxParams.go_fast: fluxhost has no fast mode; not used')
  if (params.resolution !== undefined && params.resolution.toUpperCase() !== '1MP')
    warnings.push(`fluxParams.resolution: ${name} is made at about 1 MP here; not used`)
  if (params.output_quality !== undefined && params.output_format === 'png')
    warnings.push('fluxParams.output_quality: png is lossless; not used')
  if (webhook?.events?.includes('progress'))
    warnings.push('webhookEvents: progress is not sent (poll GET /v2/jobs/{id} for progress); completed/failed are')
  return warnings
}

/** Output format and quality, with the seeds' defaults (jpg at 90). */
export function outputOf(params: FluxParams): { format: OutputFormat; quality: number } {
  return {
    format: FORMATS[params.output_format ?? DEFAULTS.format],
    quality: params.output_quality ?? DEFAULTS.quality,
  }
}
