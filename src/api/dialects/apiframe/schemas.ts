import type { FromSchema } from 'json-schema-to-ts'
import { MODELS } from '../../../domain/models.js'
import { MAX_PROMPT_LENGTH } from '../../../domain/validate.js'
import { upsamplingSchema } from '../../upsampling-schema.js'

const size = MODELS['flux-pro-1.1'].size
const SAFE = Number.MAX_SAFE_INTEGER

/** Aspect ratios and the sizes they mean: near one megapixel, both sides multiples of 32. */
export const ASPECT_RATIOS = {
  '1:1': { width: 1024, height: 1024 },
  '3:4': { width: 864, height: 1152 },
  '4:3': { width: 1152, height: 864 },
  '9:16': { width: 768, height: 1344 },
  '16:9': { width: 1344, height: 768 },
} as const

export const generateBody = {
  type: 'object',
  required: ['prompt', 'model'],
  properties: {
    prompt: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_PROMPT_LENGTH,
      description: 'Text description of what to generate.',
    },
    model: { type: 'string', description: 'flux-1.1-pro' },
    webhook_url: {
      type: 'string',
      format: 'uri',
      maxLength: 2083,
      description: 'Stored with the job; delivery comes with webhooks.',
    },
    fluxParams: {
      type: 'object',
      properties: {
        aspect_ratio: {
          type: 'string',
          enum: [...(Object.keys(ASPECT_RATIOS) as (keyof typeof ASPECT_RATIOS)[]), 'custom' as const],
          description: 'W:H, or custom to use width and height.',
        },
        width: {
          type: 'integer',
          minimum: size.min,
          maximum: size.max,
          multipleOf: size.multipleOf,
          description: 'Only with aspect_ratio custom.',
        },
        height: {
          type: 'integer',
          minimum: size.min,
          maximum: size.max,
          multipleOf: size.multipleOf,
          description: 'Only with aspect_ratio custom.',
        },
        output_format: { type: 'string', enum: ['jpg', 'jpeg', 'png', 'webp'], default: 'jpg' },
        output_quality: {
          type: 'integer',
          minimum: 0,
          maximum: 100,
          default: 90,
          description: 'Not relevant for png.',
        },
        seed: { type: 'integer', minimum: -SAFE, maximum: SAFE },
        image_prompt: {
          type: 'string',
          format: 'uri',
          maxLength: 2083,
          description: 'URL of a reference image (jpeg, png, webp, gif); the server fetches it.',
        },
        image_prompt_strength: { type: 'number', minimum: 0, maximum: 1, multipleOf: 0.05, default: 0.5 },
        prompt_upsampling: { type: 'boolean', default: false },
        raw: { type: 'boolean', default: false, description: 'Turn prompt enhancement off for a more literal result.' },
      },
    },
  },
} as const

export type GenerateBody = FromSchema<typeof generateBody>
export type FluxParams = NonNullable<GenerateBody['fluxParams']>

export const jobParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const

export const jobResponse = {
  type: 'object',
  properties: {
    jobId: { type: 'string' },
    status: { type: 'string', enum: ['QUEUED', 'PROCESSING', 'COMPLETED', 'FAILED'] },
    expired: {
      type: 'boolean',
      description:
        'Present (true) once FLUXHOST_RETENTION pruned the job: its images were deleted, `result.images` is empty.',
    },
    model: { type: 'string' },
    result: {
      type: ['object', 'null'],
      properties: {
        images: {
          type: 'array',
          items: {
            type: 'object',
            properties: { url: { type: 'string' }, width: { type: 'integer' }, height: { type: 'integer' } },
          },
        },
        seed: { type: 'integer' },
        prompt: { type: 'string', description: 'With prompt_upsampling: the prompt the engine used.' },
        promptUpsampling: upsamplingSchema,
      },
    },
    error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
    cost: { type: 'number', description: 'US dollars charged: the price once COMPLETED, else 0.' },
    progress: { type: 'number' },
    createdAt: { type: 'string' },
    completedAt: { type: ['string', 'null'] },
  },
} as const
