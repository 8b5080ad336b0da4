import type { EmulatedPrediction } from './replicate.js'

/** The official models emulated, with each one's input fields (its model API page). */
type Rule = { oneOf?: readonly unknown[]; int?: [number, number]; num?: [number, number]; bool?: true; str?: true }
const int = (min: number, max: number): Rule => ({ int: [min, max] })
const num = (min: number, max: number): Rule => ({ num: [min, max] })
const oneOf = (...values: unknown[]): Rule => ({ oneOf: values })
const bool: Rule = { bool: true }
const str: Rule = { str: true }
const RATIOS = ['1:1', '16:9', '3:2', '2:3', '4:5', '5:4', '9:16', '3:4', '4:3']
const common = { prompt: str, seed: int(-(2 ** 53), 2 ** 53), image_prompt: str }
export const MODELS: Record<string, { fields: Record<string, Rule>; format: string; megapixels: number }> = {
  'black-forest-labs/flux-1.1-pro': {
    format: 'webp',
    megapixels: 1,
    fields: {
      ...{ ...common, aspect_ratio: oneOf('custom', ...RATIOS), width: int(256, 1440), height: int(256, 1440) },
      ...{ safety_tolerance: int(1, 6), prompt_upsampling: bool, output_format: oneOf('webp', 'jpg', 'png') },
      output_quality: int(0, 100),
    },
  },
  'black-forest-labs/flux-1.1-pro-ultra': {
    format: 'jpg',
    megapixels: 4,
    fields: {
      ...{ ...common, aspect_ratio: oneOf('21:9', '9:21', ...RATIOS), raw: bool, safety_tolerance: int(1, 6) },
      ...{ output_format: oneOf('jpg', 'png'), image_prompt_strength: num(0, 1) },
    },
  },
  'black-forest-labs/flux-dev': {
    format: 'webp',
    megapixels: 1,
    fields: {
      ...{ prompt: str, seed: common.seed, aspect_ratio: oneOf('21:9', '9:21', ...RATIOS) },
      ...{ megapixels: oneOf('1', '0.25'), num_outputs: int(1, 4), num_inference_steps: int(1, 50) },
      ...{ guidance: num(0, 10), output_format: oneOf('webp', 'jpg', 'png'), output_quality: int(0, 100) },
      ...{ go_fast: bool, disable_safety_checker: bool, image: str, prompt_strength: num(0, 1) },
    },
  },
}

/** A field error in Replicate's 422 shape (problem+json with `invalid_fields`) [UNCONFIRMED], or undefined. */
export function invalidField(model: string, input: Record<string, any>): string | undefined {
  const fields = MODELS[model]!.fields
  if (typeof input.prompt !== 'string' || input.prompt === '') return 'input.prompt: prompt is required'
  for (const [key, value] of Object.entries(input)) {
    const rule = fields[key]
    // The real API's handling of unknown fields is not documented; rejecting them here shows
    // an engine sending a field the model does not have.
    if (!rule) return `input.${key}: Additional property ${key} is not allowed`
    const ok = rule.oneOf
      ? rule.oneOf.includes(value)
      : rule.int
        ? Number.isInteger(value) && value >= rule.int[0] && value <= rule.int[1]
        : rule.num
          ? typeof value === 'number' && value >= rule.num[0] && value <= rule.num[1]
          : rule.bool
            ? typeof value === 'boolean'
            : typeof value === 'string'
    if (!ok) return `input.${key}: ${JSON.stringify(value)} is not a valid value`
  }
  if (input.aspect_ratio === 'custom' && (input.width === undefined || input.height === undefined))
    return 'input.width: width and height are required with aspect_ratio custom'
  return undefined
}

/** The size a prediction renders at: a custom size, else its aspect ratio at the model's megapixels. */
export function sizeOf(prediction: EmulatedPrediction): { width: number; height: number } {
  const { input } = prediction
  if (input.aspect_ratio === 'custom') return { width: input.width, height: input.height }
  const [w, h] = String(input.aspect_ratio ?? '1:1')
    .split(':')
    .map(Number) as [number, number]
  const megapixels = input.megapixels ? Number(input.megapixels) : MODELS[prediction.model]!.megapixels
  const area = megapixels * 1024 * 1024
  const round = (value: number) => Math.max(16, Math.round(value / 16) * 16)
  return { width: round(Math.sqrt((area * w) / h)), height: round(Math.sqrt((area * h) / w)) }
}
