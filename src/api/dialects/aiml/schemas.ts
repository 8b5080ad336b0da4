import type { FromSchema } from 'json-schema-to-ts'
/** Sizes AIML (and fal) name, for `image_size`. */
export const IMAGE_SIZES = {
  square_hd: { width: 1024, height: 1024 },
  square: { width: 512, height: 512 },
  portrait_4_3: { width: 768, height: 1024 },
  portrait_16_9: { width: 576, height: 1024 },
  landscape_4_3: { width: 1024, height: 768 },
  landscape_16_9: { width: 1024, height: 576 },
} as const

export const AIML_MAX_PROMPT = 4000

/**
 * The body of seed 004 plus OpenAI's image fields. `image_size`, `size` and
 * `safety_tolerance` take more than one form, so the route checks them itself (naming
 * the field) instead of leaving ajv to report every branch.
 */
export const generationsBody = {
  type: 'object',
  required: ['model', 'prompt'],
  properties: {
    model: { type: 'string', description: 'flux-pro/v1.1' },
    prompt: { type: 'string', minLength: 1, maxLength: AIML_MAX_PROMPT },
    image_size: {
      description: `One of ${Object.keys(IMAGE_SIZES).join(', ')} (default landscape_4_3), or {width, height}.`,
    },
    safety_tolerance: { description: '"1" (strictest) to "6", as a string or a number. Default "2".' },
    output_format: { type: 'string', enum: ['jpeg', 'png', 'webp'], default: 'jpeg' },
    output_compression: {
      type: 'integer',
      minimum: 0,
      maximum: 100,
      description: 'OpenAI: the quality of jpeg and webp output, 0–100 (default 90). PNG is lossless.',
    },
    num_images: { type: 'integer', minimum: 1, maximum: 4 },
    seed: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    enable_safety_checker: { type: 'boolean', default: true },
    n: { type: 'integer', minimum: 1, maximum: 4, description: 'OpenAI: the number of images (num_images wins).' },
    size: {
      type: 'string',
      maxLength: 20,
      description:
        'OpenAI: "WxH" or "auto" (image_size wins). A size past the model\'s 1440 (1536x1024, 1792x1024…) is ' +
        "made at the nearest size of the same aspect ratio, reported in the answer's `size`.",
    },
    stream: {
      type: 'boolean',
      default: false,
      description: 'OpenAI: answer as server-sent events (image_generation.completed, or an error event).',
    },
    partial_images: {
      type: 'integer',
      minimum: 0,
      maximum: 3,
      description: 'OpenAI: accepted; no engine here shows previews, so a stream has no partial images.',
    },
    background: {
      type: 'string',
      enum: ['transparent', 'opaque', 'auto'],
      description: 'OpenAI: opaque or auto; FLUX makes no transparent images.',
    },
    moderation: { type: 'string', enum: ['low', 'auto'], description: 'OpenAI: accepted; see safety_tolerance.' },
    response_format: {
      type: 'string',
      enum: ['url', 'b64_json'],
      default: 'url',
      description: 'OpenAI: how data[] carries each image.',
    },
    quality: { type: 'string', description: 'OpenAI: accepted and ignored.' },
    style: { type: 'string', description: 'OpenAI: accepted and ignored.' },
    user: { type: 'string', description: 'OpenAI: accepted and ignored.' },
  },
} as const

export type GenerationsBody = FromSchema<typeof generationsBody>

const errorBody = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        message: { type: 'string' },
        type: { type: 'string' },
        param: { type: ['string', 'null'] },
        code: { type: ['string', 'null'] },
        details: { type: 'array', items: { type: 'object', additionalProperties: true } },
        job_id: { type: 'string' },
        url: { type: 'string' },
      },
    },
  },
} as const

export const generationsResponse = {
  201: {
    description: "AIML's fields and OpenAI's (created, data) in one body.",
    type: 'object',
    properties: {
      images: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            url: { type: 'string' },
            width: { type: 'integer' },
            height: { type: 'integer' },
            content_type: { type: 'string' },
          },
        },
      },
      timings: {
        type: 'object',
        properties: {
          inference: { type: 'number', description: 'Seconds the engine took.' },
          encode: { type: 'number', description: 'Seconds fluxhost then took to encode and store the images.' },
          safety: { type: 'number', description: 'Seconds the output classifier took, when it ran.' },
        },
      },
      seed: { type: 'integer' },
      has_nsfw_concepts: { type: 'array', items: { type: 'boolean' } },
      prompt: { type: 'string' },
      created: { type: 'integer', description: 'Unix seconds.' },
      data: {
        type: 'array',
        items: { type: 'object', properties: { url: { type: 'string' }, b64_json: { type: 'string' } } },
      },
      size: { type: 'string', description: 'OpenAI: the size made, "WxH".' },
      output_format: { type: 'string', description: 'OpenAI: jpeg, png or webp.' },
      background: { type: 'string', description: 'OpenAI: always opaque.' },
      expired: {
        type: 'boolean',
        description:
          'Present (true) in a replay of a job that FLUXHOST_RETENTION pruned since: its images were deleted.',
      },
    },
  },
  400: errorBody,
  401: errorBody,
  402: errorBody,
  409: errorBody,
  429: errorBody,
  500: errorBody,
  503: errorBody,
  504: errorBody,
}

const model = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    object: { type: 'string', enum: ['model'] },
    created: { type: 'integer', description: 'Unix seconds: when the model was released.' },
    owned_by: { type: 'string' },
  },
} as const

export const modelsResponse = {
  200: {
    description: "OpenAI's model list: the models this route serves, by the names it takes.",
    type: 'object',
    properties: { object: { type: 'string', enum: ['list'] }, data: { type: 'array', items: model } },
  },
  401: errorBody,
}

export const modelResponse = { 200: model, 401: errorBody, 404: errorBody }
