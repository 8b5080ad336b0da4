import type { EngineEntry } from '../engine.js'
import { createPreviewEngine } from './preview-engine.js'

/** Always there: the fallback when no real engine is configured. */
export const previewEntry: EngineEntry = {
  name: 'preview',
  create: (config) => createPreviewEngine({ steps: config.previewSteps }),
}
