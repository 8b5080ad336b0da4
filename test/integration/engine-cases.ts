import { createAimlEngine } from '../../src/engines/aiml/aiml-engine.js'
import { createApiframeEngine } from '../../src/engines/apiframe/apiframe-engine.js'
import { createBflEngine } from '../../src/engines/bfl/bfl-engine.js'
import type { ImageEngine } from '../../src/engines/engine.js'
import type { EngineErrorKind } from '../../src/engines/engine-error.js'
import { createFalEngine } from '../../src/engines/fal/fal-engine.js'
import type { ProviderEngineOptions } from '../../src/engines/provider-options.js'
import { createReplicateEngine } from '../../src/engines/replicate/replicate-engine.js'
import { createSeaartEngine } from '../../src/engines/seaart/seaart-engine.js'
import { createTogetherEngine } from '../../src/engines/together/together-engine.js'
import { startAimlEmulator } from '../emulators/aiml.js'
import { startApiframeEmulator } from '../emulators/apiframe.js'
import { startBflProvider } from '../emulators/bfl.js'
import { startFalEmulator } from '../emulators/fal.js'
import type { ProviderEmulator } from '../emulators/provider.js'
import { startReplicateEmulator } from '../emulators/replicate.js'
import { startSeaartEmulator } from '../emulators/seaart.js'
import { startTogetherEmulator } from '../emulators/together.js'

/** Limits the conformance suite sets to see an engine give up. */
export interface CaseOverrides {
  taskTimeoutMs?: number
}

/** One engine and its emulator, with what its provider's documents say it can do. */
export interface ConformanceCase {
  name: string
  start(): Promise<ProviderEmulator>
  create(emulator: ProviderEmulator, overrides?: CaseOverrides): ImageEngine
  /** The kinds the provider's moderation of the request and of the output map to. */
  moderation: { request: EngineErrorKind; content: EngineErrorKind }
  /** A 5xx to a submit: documented as not charged (fail over), or possibly billed (lost). */
  serverError: 'not charged' | 'lost'
  /** The provider has a cancel endpoint. */
  cancelsUpstream: boolean
  /** Asynchronous: the task is polled (a synchronous provider answers the submit with the image). */
  polls: boolean
}

const fast = { pollMinMs: 10, pollMaxMs: 20 }
const provider = (emulator: ProviderEmulator, overrides: CaseOverrides = {}): ProviderEngineOptions => ({
  apiKey: emulator.key,
  baseUrl: emulator.url,
  maxActive: 4,
  pricesUsd: { 'flux-pro-1.1': 0.04 },
  ...fast,
  ...overrides,
})

export const CONFORMANCE_CASES: ConformanceCase[] = [
  {
    name: 'bfl',
    start: () => startBflProvider('bfl-conformance'),
    create: (emulator, overrides = {}) =>
      createBflEngine({ apiKey: emulator.key, baseUrl: emulator.url, maxActive: 4, ...fast, ...overrides }),
    moderation: { request: 'request_moderated', content: 'content_moderated' },
    serverError: 'lost',
    cancelsUpstream: false,
    polls: true,
  },
  {
    name: 'together',
    start: () => startTogetherEmulator({ key: 'together-conformance' }),
    create: (emulator, overrides) => createTogetherEngine(provider(emulator, overrides)),
    moderation: { request: 'request_moderated', content: 'content_moderated' },
    serverError: 'lost',
    cancelsUpstream: false,
    polls: false,
  },
  {
    name: 'aiml',
    start: () => startAimlEmulator({ key: 'aiml-conformance' }),
    create: (emulator, overrides) => createAimlEngine(provider(emulator, overrides)),
    moderation: { request: 'request_moderated', content: 'content_moderated' },
    serverError: 'lost',
    cancelsUpstream: false,
    polls: false,
  },
  {
    name: 'fal',
    start: () => startFalEmulator({ key: 'fal-conformance' }),
    create: (emulator, overrides) => createFalEngine(provider(emulator, overrides)),
    moderation: { request: 'request_moderated', content: 'content_moderated' },
    serverError: 'not charged',
    cancelsUpstream: true,
    polls: true,
  },
  {
    name: 'seaart',
    start: () => startSeaartEmulator({ key: 'seaart-conformance' }),
    create: (emulator, overrides) => createSeaartEngine(provider(emulator, overrides)),
    moderation: { request: 'request_moderated', content: 'content_moderated' },
    serverError: 'lost',
    cancelsUpstream: true,
    polls: true,
  },
  {
    name: 'replicate',
    start: () => startReplicateEmulator({ key: 'replicate-conformance' }),
    create: (emulator, overrides) => createReplicateEngine(provider(emulator, overrides)),
    // Replicate's E005 says "input or output flagged": it cannot tell which.
    moderation: { request: 'content_moderated', content: 'content_moderated' },
    serverError: 'lost',
    cancelsUpstream: true,
    polls: true,
  },
  {
    name: 'apiframe',
    start: () => startApiframeEmulator({ key: 'apiframe-conformance' }),
    create: (emulator, overrides) => createApiframeEngine(provider(emulator, overrides)),
    moderation: { request: 'content_moderated', content: 'content_moderated' },
    serverError: 'lost',
    cancelsUpstream: false,
    polls: true,
  },
]
