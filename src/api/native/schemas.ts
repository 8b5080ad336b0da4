import type { FromSchema } from 'json-schema-to-ts'
import { JOB_STATES, OUTPUT_FORMATS } from '../../domain/job.js'
import { MODEL_IDS } from '../../domain/models.js'
import { MAX_PROMPT_LENGTH } from '../../domain/validate.js'
import { MAX_LIST_LIMIT } from '../../services/job-list.js'
import { upsamplingSchema } from '../upsampling-schema.js'

const SAFE = Number.MAX_SAFE_INTEGER

export const createJobBody = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: false,
  properties: {
    model: { type: 'string', enum: MODEL_IDS, default: MODEL_IDS[0] },
    prompt: { type: 'string', maxLength: MAX_PROMPT_LENGTH },
    width: { type: 'integer', description: "Default: the model's default width." },
    height: { type: 'integer', description: "Default: the model's default height." },
    seed: { type: ['integer', 'null'], minimum: -SAFE, maximum: SAFE },
    numImages: { type: 'integer', minimum: 1, maximum: 4, default: 1 },
    outputFormat: { type: 'string', enum: OUTPUT_FORMATS, default: 'jpeg' },
    outputQuality: { type: 'integer', minimum: 0, maximum: 100, default: 90 },
    safetyTolerance: { type: 'integer', minimum: 0, maximum: 6, default: 2 },
    promptUpsampling: { type: 'boolean', default: false },
    raw: {
      type: 'boolean',
      default: false,
      description: 'flux-pro-1.1-ultra (BFL): less processed, more natural-looking images.',
    },
    steps: { type: 'integer', description: 'flux-dev only: sampling steps, 1–50 (default 28).' },
    guidance: { type: 'number', description: 'flux-dev only: distilled guidance, 1.5–5 (default 3).' },
    aspectRatio: {
      type: 'string',
      maxLength: 9,
      description:
        "flux-pro-1.1-ultra only: '21:9' to '9:21' (default '16:9'), rendered at about 4 megapixels; " +
        'instead of width and height.',
    },
    imagePrompt: {
      type: 'object',
      required: ['data'],
      additionalProperties: false,
      properties: {
        data: { type: 'string', description: 'The image, base64 or a data: URL.' },
        strength: { type: 'number', minimum: 0, maximum: 1, default: 0.5 },
      },
    },
    webhookUrl: { type: 'string', format: 'uri', maxLength: 2083 },
  },
} as const

export type CreateJobBody = FromSchema<typeof createJobBody>

export const jobIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const

export const listJobsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: 20 },
    cursor: { type: 'string', maxLength: 64, description: 'The nextCursor of the previous page.' },
    state: { type: 'string', enum: JOB_STATES },
    model: { type: 'string', enum: MODEL_IDS, description: 'Only jobs of this model.' },
    favourite: { type: 'boolean', description: 'Only the favourites (true), or only the others (false).' },
    prompt: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      description:
        'Only jobs whose prompt contains this text (any case). A page looks at 2,000 jobs at most: ' +
        'it may hold fewer matches and still have a nextCursor.',
    },
  },
} as const

export const errorResponse = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        issues: { type: 'array', items: { type: 'object', additionalProperties: true } },
        retryAfterS: { type: 'number' },
        requestId: { type: 'string' },
      },
    },
  },
} as const

const nullableString = { type: ['string', 'null'] } as const

export const jobSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    object: { type: 'string', enum: ['job'] },
    model: { type: 'string' },
    dialect: { type: 'string' },
    state: { type: 'string', enum: JOB_STATES },
    progress: { type: 'number' },
    queuePosition: {
      type: 'integer',
      description: 'GET /api/jobs/:id of a queued job only: how many queued jobs will run before it.',
    },
    request: { type: 'object', additionalProperties: true },
    result: {
      type: ['object', 'null'],
      properties: {
        images: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              url: { type: 'string' },
              thumbnailUrl: {
                type: 'string',
                description: 'A WebP rendition inside a 512 px box, made on the first request; signed like `url`.',
              },
              width: { type: 'integer' },
              height: { type: 'integer' },
              contentType: { type: 'string' },
              bytes: { type: 'integer' },
            },
          },
        },
        prompt: {
          type: 'string',
          description: 'The prompt the engine used (the upsampled one, if upsampling was applied).',
        },
        seed: { type: 'integer' },
        upsampling: upsamplingSchema,
        nsfw: {
          type: 'array',
          items: { type: 'boolean' },
          description: 'Per image, when the safety checker blacked one out (AIML jobs).',
        },
        engineAttempts: {
          type: 'array',
          description:
            "Each engine of the model's route, in the order it was tried, with why the earlier ones gave up " +
            '(`error`) or were passed over (`skipped`: circuit open).',
          items: {
            type: 'object',
            properties: {
              engine: { type: 'string' },
              error: { type: 'object', properties: { kind: { type: 'string' }, message: { type: 'string' } } },
              skipped: { type: 'string' },
            },
          },
        },
        upstreamCostUsd: {
          type: 'number',
          description: "What the engine's provider charged for the job in USD (reported, or its configured price).",
        },
        upstreamIds: {
          type: 'array',
          items: { type: 'string' },
          description: "The provider's own ids for the job's tasks, for its support.",
        },
        notHonoured: {
          type: 'array',
          items: { type: 'string' },
          description: "Request fields the engine's provider could not honour (e.g. `raw`, `prompt_upsampling`).",
        },
      },
    },
    error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
    cost: { type: 'object', properties: { usd: { type: 'string' }, charged: { type: 'boolean' } } },
    engine: nullableString,
    attempts: { type: 'integer' },
    createdAt: { type: 'string' },
    startedAt: nullableString,
    finishedAt: nullableString,
    prunedAt: {
      type: ['string', 'null'],
      description:
        'When FLUXHOST_RETENTION deleted its images and scrubbed its prompt and inputs (`result.images` is empty).',
    },
    favourite: { type: 'boolean', description: 'Whether its owner marked it a favourite (PATCH /api/jobs/:id).' },
  },
} as const

/** What PATCH /api/jobs/:id may change of a job: for now, whether it is a favourite. */
export const patchJobBody = {
  type: 'object',
  additionalProperties: false,
  required: ['favourite'],
  properties: { favourite: { type: 'boolean', description: 'Mark the job a favourite (true) or not (false).' } },
} as const
