import type { FromSchema } from 'json-schema-to-ts'
import { MODELS } from '../../../domain/models.js'
import { MAX_PROMPT_LENGTH } from '../../../domain/validate.js'
import { HEADER_VALUE_PATTERN } from '../../header-value.js'
import { upsamplingSchema } from '../../upsampling-schema.js'

const size = MODELS['flux-pro-1.1'].size
const SAFE = Number.MAX_SAFE_INTEGER

/** BFL's `FluxPro11Inputs`, field for field (api-anchors §1.4). No field is required. */
export const fluxPro11Body = {
  type: 'object',
  properties: {
    prompt: {
      type: ['string', 'null'],
      maxLength: MAX_PROMPT_LENGTH,
      default: '',
      description: 'Text prompt for image generation.',
      examples: ['ein fantastisches bild'],
    },
    image_prompt: {
      type: ['string', 'null'],
      description: 'Optional base64-encoded image to guide generation (Flux Redux).',
    },
    width: {
      type: 'integer',
      minimum: size.min,
      maximum: size.max,
      multipleOf: size.multipleOf,
      default: size.defaultWidth,
      description: 'Width in pixels, a multiple of 32.',
    },
    height: {
      type: 'integer',
      minimum: size.min,
      maximum: size.max,
      multipleOf: size.multipleOf,
      default: size.defaultHeight,
      description: 'Height in pixels, a multiple of 32.',
    },
    prompt_upsampling: {
      type: 'boolean',
      default: false,
      description: 'Rewrite the prompt for more creative results.',
    },
    seed: {
      type: ['integer', 'null'],
      minimum: -SAFE,
      maximum: SAFE,
      description: 'Seed for reproducibility; drawn and reported when absent.',
      examples: [42],
    },
    safety_tolerance: {
      type: 'integer',
      minimum: 0,
      maximum: 6,
      default: 2,
      description: 'Moderation tolerance, 0 strictest to 6 least strict.',
    },
    output_format: {
      type: ['string', 'null'],
      enum: ['jpeg', 'png', 'webp', null],
      default: 'jpeg',
      description: 'Output image format.',
    },
    webhook_url: {
      type: ['string', 'null'],
      format: 'uri',
      minLength: 1,
      maxLength: 2083,
      description: 'URL to notify when the task finishes.',
    },
    webhook_secret: {
      type: ['string', 'null'],
      maxLength: 256,
      pattern: HEADER_VALUE_PATTERN,
      description: 'Secret sent back in the X-Webhook-Secret header.',
    },
  },
} as const

const common = fluxPro11Body.properties

/** BFL's `FluxUltraInput` (api-anchors §1.4): an aspect ratio instead of width and height. */
export const fluxUltraBody = {
  type: 'object',
  properties: {
    prompt: common.prompt,
    prompt_upsampling: common.prompt_upsampling,
    seed: common.seed,
    aspect_ratio: {
      type: 'string',
      default: '16:9',
      maxLength: 9,
      description: 'Aspect ratio of the image, between 21:9 and 9:21; rendered at about 4 megapixels.',
      examples: ['16:9'],
    },
    safety_tolerance: common.safety_tolerance,
    output_format: common.output_format,
    raw: { type: 'boolean', default: false, description: 'Less processed, more natural-looking images.' },
    image_prompt: common.image_prompt,
    image_prompt_strength: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.1,
      description: 'Blend between the prompt and the image prompt.',
    },
    webhook_url: common.webhook_url,
    webhook_secret: common.webhook_secret,
  },
} as const

/** BFL's `FluxDevInputs`: pro-1.1's fields plus steps and guidance. */
export const fluxDevBody = {
  type: 'object',
  properties: {
    ...common,
    // No defaults filled in here: absent, each engine uses its own (BFL 28 and 3; a ComfyUI
    // workflow's; sd-server's --steps), so a schnell workflow is not run at dev's 28 steps.
    steps: { type: 'integer', minimum: 1, maximum: 50, description: 'Number of sampling steps (BFL default 28).' },
    guidance: {
      type: 'number',
      minimum: 1.5,
      maximum: 5,
      description: 'Guidance scale: how closely the image follows the prompt (BFL default 3).',
    },
  },
} as const

/** The bodies as the handlers see them: validated, defaults filled in (Ajv's useDefaults). */
export type FluxPro11Body = FromSchema<typeof fluxPro11Body>
export type FluxUltraBody = FromSchema<typeof fluxUltraBody>
export type FluxDevBody = FromSchema<typeof fluxDevBody>

export const getResultQuery = {
  type: 'object',
  required: ['id'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 100, description: 'The task id from the submit response.' },
  },
} as const

const detail = {
  description: 'FastAPI-style error: a message, or a list of field errors.',
  type: 'object',
  properties: {
    detail: {
      anyOf: [
        { type: 'string' },
        {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              type: { type: 'string' },
              loc: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
              msg: { type: 'string' },
              input: {},
              ctx: { type: 'object', additionalProperties: true },
            },
          },
        },
      ],
    },
  },
} as const

export const submitResponse = {
  200: {
    description: 'The task was accepted.',
    type: 'object',
    properties: {
      id: { type: 'string' },
      polling_url: { type: 'string' },
      cost: { type: ['number', 'null'], description: 'Credits (1 credit = $0.01) charged when the task succeeds.' },
      input_mp: { type: ['number', 'null'] },
      output_mp: { type: ['number', 'null'] },
      status: { type: 'string', description: 'Present when webhook_url was given.' },
      webhook_url: { type: 'string', description: 'Present when webhook_url was given.' },
    },
  },
  401: detail,
  422: detail,
  429: detail,
}

export const resultResponse = {
  200: {
    description: 'The task and, once Ready, its result.',
    type: 'object',
    properties: {
      id: { type: 'string' },
      status: {
        type: 'string',
        enum: ['Task not found', 'Pending', 'Request Moderated', 'Content Moderated', 'Ready', 'Error'],
      },
      result: {
        type: ['object', 'null'],
        description: 'Once Ready: the signed image URL (`sample`, valid for FLUXHOST_FILE_URL_TTL) and what made it.',
        properties: {
          sample: { type: ['string', 'null'] },
          samples: {
            type: 'array',
            items: { type: 'string' },
            description: 'Every image, when a job made more than one.',
          },
          prompt: { type: 'string' },
          seed: { type: 'integer' },
          start_time: { type: ['number', 'null'], description: 'Unix seconds.' },
          end_time: { type: ['number', 'null'], description: 'Unix seconds.' },
          duration: { type: ['number', 'null'], description: 'Seconds.' },
          prompt_upsampling: upsamplingSchema,
        },
      },
      progress: { type: ['number', 'null'] },
      details: {
        type: ['object', 'null'],
        description: 'Why a task failed: a registry code (docs/errors.md) and message; `expired` once it was pruned.',
        properties: {
          code: { type: 'string' },
          message: { type: 'string' },
          'Moderation Reasons': { type: 'array', items: { type: 'string' } },
          expired: {
            type: 'string',
            description:
              'Only once FLUXHOST_RETENTION pruned the task: why `result` has no `sample` (its images were deleted).',
          },
        },
      },
      preview: { type: ['object', 'null'], additionalProperties: true },
    },
  },
  401: detail,
  422: detail,
}
