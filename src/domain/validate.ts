import type { FieldIssue } from './errors.js'
import type { GenerationRequest } from './job.js'
import { aspectRatioInRange, getModel, parseAspectRatio, ultraSize } from './models.js'

export const MAX_PROMPT_LENGTH = 10_000

/** Checks a canonical request against its model's limits; `loc` uses canonical field names. */
export function checkRequest(request: GenerationRequest): FieldIssue[] {
  const model = getModel(request.model)
  const issues: FieldIssue[] = []
  const { min, max, multipleOf } = model.size
  for (const field of ['width', 'height'] as const) {
    const value = request[field]
    const loc = ['body', field]
    if (!Number.isInteger(value))
      issues.push({ loc, msg: 'Input should be a valid integer', type: 'int_type', input: value })
    else if (value < min)
      issues.push({
        loc,
        msg: `Input should be greater than or equal to ${min}`,
        type: 'greater_than_equal',
        input: value,
        ctx: { ge: min },
      })
    else if (value > max)
      issues.push({
        loc,
        msg: `Input should be less than or equal to ${max}`,
        type: 'less_than_equal',
        input: value,
        ctx: { le: max },
      })
    else if (value % multipleOf !== 0)
      issues.push({
        loc,
        msg: `Input should be a multiple of ${multipleOf}`,
        type: 'multiple_of',
        input: value,
        ctx: { multiple_of: multipleOf },
      })
  }
  if (request.prompt.length > MAX_PROMPT_LENGTH) {
    issues.push({
      loc: ['body', 'prompt'],
      msg: `String should have at most ${MAX_PROMPT_LENGTH} characters`,
      type: 'string_too_long',
      ctx: { max_length: MAX_PROMPT_LENGTH },
    })
  }
  if (!Number.isInteger(request.numImages) || request.numImages < 1 || request.numImages > model.maxImages) {
    issues.push({
      loc: ['body', 'numImages'],
      msg: `Input should be a whole number from 1 to ${model.maxImages}`,
      type: 'value_error',
      input: request.numImages,
    })
  }
  if (!(model.formats as readonly string[]).includes(request.output.format)) {
    issues.push({
      loc: ['body', 'output', 'format'],
      msg: `Input should be ${model.formats.map((f) => `'${f}'`).join(', ')}`,
      type: 'enum',
      input: request.output.format,
    })
  }
  for (const field of ['steps', 'guidance'] as const) {
    const value = request[field]
    if (value === undefined) continue
    const range = model[field]
    const loc = ['body', field]
    if (!range) issues.push({ loc, msg: `${model.id} takes no ${field}`, type: 'extra_forbidden', input: value })
    else if (field === 'steps' && !Number.isInteger(value))
      issues.push({ loc, msg: 'Input should be a valid integer', type: 'int_type', input: value })
    else if (typeof value !== 'number' || !Number.isFinite(value))
      issues.push({ loc, msg: 'Input should be a valid number', type: 'float_type', input: value })
    else if (value < range.min)
      issues.push({
        loc,
        msg: `Input should be greater than or equal to ${range.min}`,
        type: 'greater_than_equal',
        input: value,
        ctx: { ge: range.min },
      })
    else if (value > range.max)
      issues.push({
        loc,
        msg: `Input should be less than or equal to ${range.max}`,
        type: 'less_than_equal',
        input: value,
        ctx: { le: range.max },
      })
  }
  if (
    model.aspectRatio &&
    Number.isInteger(request.width) &&
    Number.isInteger(request.height) &&
    request.width > 0 &&
    request.height > 0
  ) {
    if (!aspectRatioInRange([request.width, request.height])) {
      issues.push({
        loc: ['body', 'width'],
        msg: 'width and height should make an aspect ratio between 21:9 and 9:21',
        type: 'value_error',
        input: `${request.width}x${request.height}`,
      })
    }
    const ratio = request.aspectRatio === undefined ? undefined : parseAspectRatio(request.aspectRatio)
    if (ratio && aspectRatioInRange(ratio)) {
      const size = ultraSize(ratio)
      if (size.width !== request.width || size.height !== request.height) {
        issues.push({
          loc: ['body', 'aspect_ratio'],
          msg:
            `aspect ratio ${request.aspectRatio} renders at ${size.width}x${size.height}; ` +
            'give an aspect ratio or a size, not both',
          type: 'value_error',
          input: request.aspectRatio,
        })
      }
    }
  }
  if (request.aspectRatio !== undefined) {
    const loc = ['body', 'aspect_ratio']
    const ratio = parseAspectRatio(request.aspectRatio)
    if (!model.aspectRatio)
      issues.push({
        loc,
        msg: `${model.id} takes no aspect_ratio`,
        type: 'extra_forbidden',
        input: request.aspectRatio,
      })
    else if (!ratio)
      issues.push({
        loc,
        msg: "Input should be a ratio like '16:9'",
        type: 'string_pattern_mismatch',
        input: request.aspectRatio,
      })
    else if (!aspectRatioInRange(ratio))
      issues.push({
        loc,
        msg: 'Aspect ratio should be between 21:9 and 9:21',
        type: 'value_error',
        input: request.aspectRatio,
      })
  }
  if (!Number.isSafeInteger(request.seed)) {
    issues.push({
      loc: ['body', 'seed'],
      msg: 'Input should be a valid integer',
      type: 'int_type',
      input: request.seed,
    })
  }
  return issues
}
