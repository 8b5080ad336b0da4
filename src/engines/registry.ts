import { aimlEntry } from './aiml/entry.js'
import { apiframeEntry } from './apiframe/entry.js'
import { bflEntry } from './bfl/entry.js'
import { comfyuiEntry } from './comfyui/entry.js'
import type { EngineEntry } from './engine.js'
import { falEntry } from './fal/entry.js'
import { previewEntry } from './preview/entry.js'
import { replicateEntry } from './replicate/entry.js'
import { sdcppEntry } from './sdcpp/entry.js'
import { seaartEntry } from './seaart/entry.js'
import { togetherEntry } from './together/entry.js'

/** Every engine, preview first; by default the others serve in this order, failing over down it. */
export const ENGINE_REGISTRY: readonly EngineEntry[] = [
  previewEntry,
  bflEntry,
  comfyuiEntry,
  sdcppEntry,
  falEntry,
  replicateEntry,
  togetherEntry,
  aimlEntry,
  apiframeEntry,
  seaartEntry,
]
