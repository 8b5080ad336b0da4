/** How `prompt_upsampling` went, as every dialect's result shows it (JSON schema). */
export const upsamplingSchema = {
  type: 'object',
  description:
    'Present when prompt upsampling was asked for: whether it was applied, ' +
    'by the engine or the configured upsampler, or why not.',
  properties: {
    applied: { type: 'boolean' },
    by: { type: 'string', enum: ['engine', 'upsampler'] },
    reason: { type: 'string' },
  },
} as const
