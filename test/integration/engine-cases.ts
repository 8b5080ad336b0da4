import { createAimlEngine } from '../../src/engines/aiml/aiml-engine.js'
import { createApiframeEngine } from '../../src/engines/apiframe/apiframe-engine.js'
import { createBflEngine } from '../../src/engines/bfl/bfl-engine.js'
import { createComfyUiEngine } from '../../src/engines/comfyui/comfyui-engine.js'
import { resolveWorkflows } from '../../src/engines/comfyui/workflows.js'
import type { ImageEngine } from '../../src/engines/engine.js'
import type { EngineErrorKind } from '../../src/engines/engine-error.js'
import { createFalEngine } from '../../src/engines/fal/fal-engine.js'
import type { ProviderEngineOptions } from '../../src/engines/provider-options.js'
import { createReplicateEngine } from '../../src/engines/replicate/replicate-engine.js'
import { createSdcppEngine } from '../../src/engines/sdcpp/sdcpp-engine.js'
import { createSeaartEngine } from '../../src/engines/seaart/seaart-engine.js'
import { createTogetherEngine } from '../../src/engines/together/together-engine.js'
import { startAimlEmulator } from '../emulators/aiml.js'
import { startApiframeEmulator } from '../emulators/apiframe.js'
import { startBflProvider } from '../emulators/bfl.js'
import { type ComfyProvider, startComfyProvider } from '../emulators/comfyui-provider.js'
import { startFalEmulator } from '../emulators/fal.js'
import type { ProviderEmulator, ProviderScript } from '../emulators/provider.js'
import { startReplicateEmulator } from '../emulators/replicate.js'
import { startSdcppProvider } from '../emulators/sdcpp-provider.js'
import { startSeaartEmulator } from '../emulators/seaart.js'
import { startTogetherEmulator } from '../emulators/together.js'

/** Limits the conformance suite sets to see an engine give up. */
export interface CaseOverrides {
  taskTimeoutMs?: number
}

/** How a provider refuses a submit, server errors aside. */
export type Refusal = Exclude<NonNullable<ProviderScript['refuse']>, 'server_error'>

/** One engine and its emulator, with what its provider's documents say it can do. */
export interface ConformanceCase {
  name: string
  start(): Promise<ProviderEmulator>
  create(emulator: ProviderEmulator, overrides?: CaseOverrides): ImageEngine
  /**
   * The kinds the provider's moderation of the request and of the output map to; null for a
   * local server, which moderates nothing (fluxhost's own checker screens prompts and images).
   */
  moderation: { request: EngineErrorKind; content: EngineErrorKind } | null
  /**
   * Local servers only: the refusals they have and the kinds their engine gives them. They
   * have no account (no credit to run out of), and some no key or no rate limit. Unset: the
   * four refusals every hosted provider has, with the kinds the suite expects of them.
   */
  refusals?: Partial<Record<Refusal, EngineErrorKind>>
  /**
   * The engine finds what a lost submit may have queued and removes it (a local server, where
   * a duplicate costs only the GPU's time), so its error says so rather than "not re-sent".
   */
  removesLostSubmit?: boolean
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
  /*
   * The local engines: the operator's own servers. Nothing is billed, so a 5xx to a submit
   * (which both engines take as "nothing queued") is 'not charged', and a lost submit may be
   * failed over (`duplicateHarmless`): the suite still checks the engine never resends it.
   */
  {
    name: 'comfyui',
    start: () => startComfyProvider(),
    create: (emulator, overrides) =>
      (emulator as ComfyProvider).adopt(
        createComfyUiEngine({
          url: emulator.url,
          workflows: resolveWorkflows('schnell', null),
          maxQueued: 4,
          pollMs: 20,
          ...overrides,
        }),
      ),
    moderation: null,
    refusals: {
      // The origin check's 403: the operator's ComfyUI refuses this caller.
      bad_key: 'unavailable',
      // ComfyUI's 400 (node_errors) judges the operator's workflow (a model not installed), not
      // the user's fields: this ComfyUI cannot serve now, another engine may.
      invalid: 'unavailable',
    },
    removesLostSubmit: true,
    serverError: 'not charged',
    // /queue delete for a waiting prompt, /interrupt for the running one, found by its marker.
    cancelsUpstream: true,
    // Queued and followed (its socket, /history when that may have missed something): not synchronous.
    polls: true,
  },
  {
    name: 'sdcpp',
    start: () => startSdcppProvider(),
    // A full queue (429) is waited out for up to queueWaitMs: 0 hands it back at once, to see its mapping.
    create: (emulator, overrides) =>
      createSdcppEngine({ url: emulator.url, maxQueued: 4, pollMinMs: 10, queueWaitMs: 0, ...overrides }),
    moderation: null,
    refusals: { rate_limited: 'rate_limited', invalid: 'invalid' },
    serverError: 'not charged',
    cancelsUpstream: true,
    polls: true,
  },
]
