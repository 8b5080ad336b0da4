import type { FieldIssue } from '../../../domain/errors.js'
import { aliasesOf, getModel, type ModelId, modelByAlias } from '../../../domain/models.js'
import { nearestSize } from './openai-size.js'
import { type GenerationsBody, IMAGE_SIZES } from './schemas.js'

export interface AimlRequest {
  model: ModelId
  width: number
  height: number
  safetyTolerance: number
  numImages: number
  /** Which field the size came from, to name it when the model rejects the size. */
  sizeField: 'image_size' | 'size'
  /** The image quality of jpeg and webp output, 0–100. */
  quality: number
}

/** JPEG and WebP quality when `output_compression` does not say. */
const DEFAULT_QUALITY = 90

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * The fields of an AIML/OpenAI body that take several forms, resolved and checked. Sizes
 * are only parsed here; their range and multiple of 32 are the model's rule, checked (and
 * named) with everything else by the service. Issues use the client's field names.
 */
export function readAimlRequest(body: GenerationsBody): { request: AimlRequest } | { issues: FieldIssue[] } {
  const issues: FieldIssue[] = []
  const model = modelByAlias('aiml', body.model)
  if (!model) {
    issues.push({
      loc: ['body', 'model'],
      msg: `'${body.model.slice(0, 60)}' is not served here; models: ${aliasesOf('aiml').join(', ')}`,
      type: 'enum',
      input: body.model.slice(0, 60),
    })
  }

  let size: { width: number; height: number } = IMAGE_SIZES.landscape_4_3
  let sizeField: AimlRequest['sizeField'] = 'image_size'
  if (body.image_size !== undefined) {
    if (typeof body.image_size === 'string' && Object.hasOwn(IMAGE_SIZES, body.image_size)) {
      size = IMAGE_SIZES[body.image_size as keyof typeof IMAGE_SIZES]
    } else if (
      isObject(body.image_size) &&
      Number.isInteger(body.image_size.width) &&
      Number.isInteger(body.image_size.height)
    ) {
      size = { width: body.image_size.width as number, height: body.image_size.height as number }
    } else {
      issues.push({
        loc: ['body', 'image_size'],
        msg:
          `Input should be one of ${Object.keys(IMAGE_SIZES).join(', ')}, ` +
          'or an object with integer width and height',
        type: 'value_error',
        input:
          typeof body.image_size === 'string'
            ? body.image_size.slice(0, 60)
            : body.image_size === null
              ? null
              : typeof body.image_size,
      })
    }
  } else if (body.size !== undefined && body.size !== 'auto') {
    sizeField = 'size'
    const match = /^(\d{1,5})x(\d{1,5})$/.exec(body.size)
    if (match) {
      size = { width: Number(match[1]), height: Number(match[2]) }
      // OpenAI's sizes past the model's maximum: made at the nearest one of the same shape.
      if (model) size = nearestSize(getModel(model).size, size.width, size.height) ?? size
    } else
      issues.push({
        loc: ['body', 'size'],
        msg: "Input should be 'WIDTHxHEIGHT' (e.g. '1024x768') or 'auto'",
        type: 'value_error',
        input: body.size.slice(0, 60),
      })
  }

  let safetyTolerance = 2
  if (body.safety_tolerance !== undefined) {
    const value = body.safety_tolerance
    const number =
      typeof value === 'string' && /^[1-6]$/.test(value)
        ? Number(value)
        : typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 6
          ? value
          : undefined
    if (number === undefined)
      issues.push({
        loc: ['body', 'safety_tolerance'],
        msg: "Input should be '1', '2', '3', '4', '5' or '6'",
        type: 'enum',
        input: typeof value === 'object' ? typeof value : value,
      })
    else safetyTolerance = number
  }

  if (body.background === 'transparent')
    issues.push({
      loc: ['body', 'background'],
      msg: "FLUX makes opaque images only: use 'opaque' or 'auto'",
      type: 'enum',
      input: body.background,
    })

  if (issues.length > 0) return { issues }
  const numImages = body.num_images ?? body.n ?? 1
  const quality = body.output_compression ?? DEFAULT_QUALITY
  return { request: { model: model!, ...size, safetyTolerance, numImages, sizeField, quality } }
}
