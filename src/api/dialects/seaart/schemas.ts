import type { FromSchema } from 'json-schema-to-ts'
import { MODELS } from '../../../domain/models.js'
import { MAX_PROMPT_LENGTH } from '../../../domain/validate.js'

const size = MODELS['flux-pro-1.1'].size
const SAFE = Number.MAX_SAFE_INTEGER

/** The create body of seeds 000 and 001, field for field. */
export const createBody = {
  type: 'object',
  required: ['prompt'],
  properties: {
    model: { type: 'string', description: 'Optional; when given it must be flux_pro_11.' },
    prompt: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_PROMPT_LENGTH,
      description: 'Text description of the desired image.',
    },
    image_prompt: { type: 'string', description: 'Base64 image used to guide generation.' },
    width: {
      type: 'integer',
      minimum: size.min,
      maximum: size.max,
      multipleOf: size.multipleOf,
      default: size.defaultWidth,
    },
    height: {
      type: 'integer',
      minimum: size.min,
      maximum: size.max,
      multipleOf: size.multipleOf,
      default: size.defaultHeight,
    },
    prompt_upsampling: { type: 'boolean', default: false },
    seed: {
      type: 'integer',
      minimum: -SAFE,
      maximum: SAFE,
      description: 'Any integer; drawn and reported when absent.',
    },
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 6, default: 2 },
    output_format: { type: 'string', enum: ['jpeg', 'png'], default: 'jpeg' },
    webhook_url: {
      type: 'string',
      format: 'uri',
      maxLength: 2083,
      description: 'Stored with the task; delivery comes with webhooks.',
    },
  },
} as const

export type CreateBody = FromSchema<typeof createBody>

export const requestParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const

export const submitResponse = {
  type: 'object',
  properties: {
    request_id: { type: 'string' },
    response_url: { type: 'string' },
    status_url: { type: 'string' },
    cancel_url: { type: 'string' },
    queue_position: { type: 'integer', description: 'Jobs that will run before this one.' },
  },
} as const

export const statusResponse = {
  type: 'object',
  properties: {
    request_id: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'in_progress', 'completed', 'failed', 'cancelled'] },
    queue_position: { type: 'integer' },
  },
} as const

export const resultResponse = {
  type: 'object',
  properties: {
    request_id: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'in_progress', 'completed', 'failed', 'cancelled'] },
    expired: {
      type: 'boolean',
      description: 'Present (true) once FLUXHOST_RETENTION pruned the request: its images were deleted.',
    },
    output: {
      type: 'array',
      description: 'Only when completed.',
      items: {
        type: 'object',
        properties: {
          content: {
            type: 'array',
            items: { type: 'object', properties: { type: { type: 'string' }, url: { type: 'string' } } },
          },
        },
      },
    },
    usage: {
      type: 'object',
      description: 'Only when completed.',
      properties: { cost: { type: 'string' }, discount: { type: 'number' } },
    },
    metadata: { type: 'object', additionalProperties: true },
    error: {
      type: 'object',
      description: 'Only when failed.',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const
