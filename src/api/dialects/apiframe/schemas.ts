import type { FromSchema } from 'json-schema-to-ts'
import { aliasesOf } from '../../../domain/models.js'

const SAFE = Number.MAX_SAFE_INTEGER
const URL_MAX = 2083

/** Apiframe's prompt limit (OpenAPI 2.0.0: 1–2000 characters). */
export const MAX_PROMPT = 2000

export const WEBHOOK_EVENTS = ['progress', 'completed', 'failed'] as const
export const JOB_STATUSES = ['QUEUED', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const

const webhookUrl = { type: 'string', format: 'uri', maxLength: URL_MAX } as const

/**
 * `fluxParams` of flux-1.1-pro as Apiframe's OpenAPI document has them (no unknown key), plus
 * what the seeds add: `aspect_ratio: "custom"` and `jpeg`. Sizes and the fields fluxhost cannot
 * honour are checked in request.ts, which reports what it did with each.
 */
const fluxParams = {
  type: 'object',
  additionalProperties: false,
  properties: {
    aspect_ratio: {
      type: 'string',
      maxLength: 20,
      pattern: '^(\\d+:\\d+|custom)$',
      description: 'W:H (any ratio, made at about 1 MP), or custom to use width and height. Default 1:1.',
    },
    width: { type: 'integer', minimum: 256, maximum: 2048, description: 'Made at the nearest size the model makes.' },
    height: { type: 'integer', minimum: 256, maximum: 2048, description: 'Made at the nearest size the model makes.' },
    output_format: { type: 'string', enum: ['jpg', 'jpeg', 'png', 'webp'], description: 'Default jpg.' },
    output_quality: { type: 'integer', minimum: 0, maximum: 100, description: 'Default 90; not used for png.' },
    image_prompt: {
      type: 'string',
      format: 'uri',
      maxLength: URL_MAX,
      description: 'URL of a reference image (jpeg, png, webp, gif); the server fetches it.',
    },
    image_prompt_strength: { type: 'number', minimum: 0, maximum: 1, description: 'Default 0.5.' },
    input_images: {
      type: 'array',
      maxItems: 10,
      items: { type: 'string', format: 'uri', maxLength: URL_MAX },
      description: 'One reference image here, as image_prompt (flux-1.1-pro takes one).',
    },
    prompt_upsampling: { type: 'boolean' },
    raw: { type: 'boolean', description: 'Turn prompt enhancement off for a more literal result.' },
    seed: { type: 'integer', minimum: -SAFE, maximum: SAFE },
    guidance: { type: 'number', minimum: 1.5, maximum: 10, description: 'Not a setting of flux-1.1-pro: reported.' },
    steps: { type: 'integer', minimum: 1, maximum: 50, description: 'Not a setting of flux-1.1-pro: reported.' },
    go_fast: { type: 'boolean', description: 'fluxhost has no fast mode: reported.' },
    resolution: { type: 'string', maxLength: 100, description: 'flux-1.1-pro is made at about 1 MP.' },
  },
} as const

export const generateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['prompt', 'model'],
  properties: {
    model: { type: 'string', enum: aliasesOf('apiframe'), description: 'flux-1.1-pro' },
    prompt: { type: 'string', minLength: 1, maxLength: MAX_PROMPT },
    fluxParams,
    webhookUrl: { ...webhookUrl, description: 'Gets a signed POST when the job ends.' },
    webhookEvents: {
      type: 'array',
      minItems: 1,
      maxItems: 3,
      uniqueItems: true,
      items: { type: 'string', enum: WEBHOOK_EVENTS },
      description: 'Which endings are sent (default all); progress is accepted, not sent.',
    },
    webhook_url: { ...webhookUrl, description: "The seeds' name for webhookUrl." },
  },
} as const

export type GenerateBody = FromSchema<typeof generateBody>
export type FluxParams = NonNullable<GenerateBody['fluxParams']>

const uuid = { type: 'string', format: 'uuid', maxLength: 64 } as const

export const jobParams = { type: 'object', required: ['id'], properties: { id: uuid } } as const

export const listQuery = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: JOB_STATUSES },
    model: { type: 'string', maxLength: 100 },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    cursor: { ...uuid, description: 'nextCursor of the previous page.' },
    scope: { type: 'string', enum: ['user', 'team'], default: 'user', description: 'team: every key (admin keys).' },
    search: { ...uuid, description: 'A job id.' },
    include_models: { type: 'string', enum: ['true', 'false'], default: 'false' },
  },
} as const

export const modelsQuery = {
  type: 'object',
  properties: { modality: { type: 'string', enum: ['image', 'video', 'music'] } },
} as const
