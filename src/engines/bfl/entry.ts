import type { EngineEntry } from '../engine.js'
import { createBflEngine } from './bfl-engine.js'

/** BFL's cloud, with FLUXHOST_BFL_API_KEY. */
export const bflEntry: EngineEntry = {
  name: 'bfl',
  create: ({ bfl }) =>
    bfl
      ? createBflEngine({ apiKey: bfl.apiKey, baseUrl: bfl.url, maxActive: bfl.maxActive, pollMinMs: bfl.pollMs })
      : undefined,
}
