import { upsamplingSchema } from '../../upsampling-schema.js'
import { JOB_STATUSES } from './schemas.js'

export const tags = ['Apiframe v2']
export const security: Record<string, string[]>[] = [{ apiKey: [] }]

/** Every error body: `{error}`, and per status `details` (400) or the credit figures (402). */
const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'string', description: 'The message (402: "Insufficient credits").' },
    code: { type: 'string', description: 'fluxhost: a code from docs/errors.md.' },
    message: { type: 'string', description: "402 only: fluxhost's own message." },
    details: {
      type: 'object',
      description: '400: the messages of each field, by its path (fluxParams.width).',
      additionalProperties: { type: 'array', items: { type: 'string' } },
    },
    creditsRequired: { type: 'integer' },
    creditsAvailable: { type: 'integer' },
  },
} as const

export const errorResponses = {
  400: errorBody,
  401: errorBody,
  402: errorBody,
  403: errorBody,
  404: errorBody,
  409: errorBody,
  429: errorBody,
  503: errorBody,
}

export const acceptedSchema = {
  type: 'object',
  required: ['jobId', 'status'],
  properties: {
    jobId: { type: 'string', format: 'uuid' },
    status: { type: 'string', enum: ['QUEUED', 'PROCESSING', 'COMPLETED', 'FAILED'] },
    warnings: {
      type: 'array',
      items: { type: 'string' },
      description: 'fluxhost: what was made differently from what was asked, or not used.',
    },
  },
} as const

const resultSchema = {
  type: ['object', 'null'],
  description: 'Once COMPLETED: the image URLs (url: the first), the seed; else null.',
  properties: {
    url: { type: ['string', 'null'] },
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
} as const

const itemProperties = {
  id: { type: 'string', format: 'uuid' },
  status: { type: 'string', enum: JOB_STATUSES },
  model: { type: 'string' },
  progress: { type: ['integer', 'null'], minimum: 0, maximum: 100 },
  error: { type: ['string', 'null'] },
  errorCode: { type: ['string', 'null'], description: 'fluxhost: the code of error (docs/errors.md).' },
  creditCost: { type: ['integer', 'null'], description: 'Credits charged (1 = $0.01); null until the job ends.' },
  webhookStatus: { type: ['string', 'null'], enum: ['pending', 'delivered', 'failed', null] },
  createdAt: { type: 'string', format: 'date-time' },
  completedAt: { type: ['string', 'null'], format: 'date-time' },
  expired: { type: 'boolean', description: 'Retention deleted its images.' },
  result: resultSchema,
} as const

export const jobItemSchema = { type: 'object', properties: itemProperties } as const

export const jobSchema = {
  type: 'object',
  properties: {
    ...itemProperties,
    input: {
      type: ['object', 'null'],
      description: 'The request as fluxhost runs it: the size made, the seed used, the stored image prompt.',
      additionalProperties: true,
    },
  },
} as const

export const jobListSchema = {
  type: 'object',
  required: ['jobs', 'nextCursor', 'hasMore'],
  properties: {
    jobs: { type: 'array', items: jobItemSchema },
    nextCursor: { type: ['string', 'null'] },
    hasMore: { type: 'boolean' },
    models: { type: 'array', items: { type: 'string' } },
  },
} as const

export const meSchema = {
  type: 'object',
  required: ['user', 'team', 'apiKey'],
  properties: {
    user: {
      type: 'object',
      properties: { id: { type: 'string' }, email: { type: ['string', 'null'] }, role: { type: 'string' } },
    },
    team: {
      type: ['object', 'null'],
      properties: {
        id: { type: 'string' },
        name: { type: 'string' },
        credits: { type: 'integer' },
        unlimited: { type: 'boolean' },
        plan: { type: 'string' },
        customerId: { type: ['string', 'null'] },
      },
    },
    apiKey: {
      type: ['object', 'null'],
      properties: { id: { type: 'string' }, name: { type: 'string' }, prefix: { type: 'string' } },
    },
  },
} as const

export const modelCatalogSchema = {
  type: 'object',
  required: ['models'],
  properties: {
    models: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          label: { type: 'string' },
          modality: { type: 'string', enum: ['image', 'video', 'music'] },
          description: { type: 'string' },
          costMin: { type: 'number' },
          costMax: { type: 'number' },
          pricingMode: { type: 'string', enum: ['flat', 'per-second', 'per-output'] },
        },
      },
    },
  },
} as const
