import type { ModelId } from '../domain/models.js'
import type { RoutePolicy } from '../domain/routing.js'
import type { EngineContext, EngineOutput, EngineTask, ImageEngine } from './engine.js'
import { EngineError, isEngineError } from './engine-error.js'
import { createEngineHealth, type EngineHealth, type EngineHealthSnapshot } from './health.js'

export interface EngineAttempt {
  engine: string
  error?: { kind: string; message: string }
  /** The engine was passed over without a try: its circuit is open (it failed, ran out of credit, or rate limits). */
  skipped?: string
}

export interface RoutedOutput {
  output: EngineOutput
  engine: string
  /** Whether that engine is local (its outputs need fluxhost's safety checker). */
  local: boolean
  attempts: EngineAttempt[]
}

export class RoutedEngineError extends EngineError {
  constructor(
    cause: EngineError,
    readonly engine: string,
    readonly attempts: EngineAttempt[],
  ) {
    super(cause.kind, cause.message, {
      retryAfterMs: cause.retryAfterMs,
      cause,
      submitLost: cause.submitLost,
      requestId: cause.requestId,
    })
  }
}

/** A model's engines and how the first one to try is picked. */
export interface Route {
  policy: RoutePolicy
  engines: ImageEngine[]
  weights?: Partial<Record<string, number>>
}

export interface RouterOptions {
  /** What an engine charges per image for a model (USD); undefined: unknown. */
  priceOf?: (engine: string, model: ModelId) => number | undefined
  random?: () => number
  now?: () => number
}

/**
 * Sends each task to the engines of its model's route, in the order its policy gives, and
 * fails over down that order. An engine whose circuit is open is passed over (noted in the
 * attempts) unless every engine's is, then the one that reopens first is tried. What moves on
 * to the next engine: unavailable, out of credit, rate limited, and a rejected input (the
 * provider charged nothing); a submit whose answer was lost moves on only from an engine
 * where a duplicate is harmless. Anything else (moderation, a failed task) is final.
 */
export function createEngineRouter(routes: Partial<Record<ModelId, Route>>, options: RouterOptions = {}) {
  const random = options.random ?? Math.random
  const health = new Map<string, EngineHealth>()
  const healthOf = (name: string) => {
    let h = health.get(name)
    if (!h) health.set(name, (h = createEngineHealth({ now: options.now })))
    return h
  }
  for (const route of Object.values(routes)) for (const engine of route?.engines ?? []) healthOf(engine.name)

  const order = (route: Route, model: ModelId): ImageEngine[] => {
    const engines = [...route.engines]
    switch (route.policy) {
      case 'failover':
        return engines
      case 'cheapest': {
        // Local engines cost nothing per image; a hosted one without a known price goes last.
        const price = (e: ImageEngine) => options.priceOf?.(e.name, model) ?? (e.local ? 0 : Number.POSITIVE_INFINITY)
        return engines.sort((a, b) => price(a) - price(b))
      }
      case 'fastest': {
        // Engines with too few recent tasks to judge come first, so each gets measured.
        const p50 = (e: ImageEngine) => healthOf(e.name).p50() ?? 0
        return engines.sort((a, b) => p50(a) - p50(b))
      }
      case 'weighted': {
        const out: ImageEngine[] = []
        const left = engines.filter((e) => (route.weights?.[e.name] ?? 0) > 0)
        while (left.length > 1) {
          const total = left.reduce((sum, e) => sum + route.weights![e.name]!, 0)
          let pick = random() * total
          const index = left.findIndex((e) => (pick -= route.weights![e.name]!) < 0)
          out.push(...left.splice(index < 0 ? left.length - 1 : index, 1))
        }
        out.push(...left)
        // Weight 0: kept only as a fallback.
        return [...out, ...engines.filter((e) => !out.includes(e))]
      }
      default: {
        const unreachable: never = route.policy
        throw new Error(`unknown routing policy ${String(unreachable)}`)
      }
    }
  }

  const movesOn = (engine: ImageEngine, error: EngineError): boolean => {
    if (error.submitLost) return engine.duplicateHarmless === true
    return ['unavailable', 'insufficient_credits', 'rate_limited', 'invalid'].includes(error.kind)
  }

  return {
    enginesFor(model: ModelId): readonly ImageEngine[] {
      return routes[model]?.engines ?? []
    },

    policyOf(model: ModelId): RoutePolicy {
      return routes[model]?.policy ?? 'failover'
    },

    /**
     * Why this model's route cannot take a request at all, before anything is submitted: an
     * image prompt when none of its engines takes one (naming them). Undefined: it can.
     */
    refusal(model: ModelId, request: { imagePrompt: boolean }): string | undefined {
      const engines = routes[model]?.engines ?? []
      if (request.imagePrompt && engines.length > 0 && !engines.some((engine) => takesImagePrompt(engine, model)))
        return `${model} is served here by ${engines.map((e) => e.name).join(', ')}, which take no image prompt`
      return undefined
    },

    /** Whether `X-Fluxhost-Simulate` applies to jobs of this model (its first engine simulates). */
    simulates(model: ModelId, allowAll: boolean): boolean {
      return allowAll || routes[model]?.engines[0]?.name === 'preview'
    },

    /** Each engine's health in this process: circuit, latency, the last hour's jobs and failures. */
    health(): Record<string, EngineHealthSnapshot> {
      return Object.fromEntries([...health].map(([name, h]) => [name, h.snapshot()]))
    },

    async generate(task: EngineTask, ctx: EngineContext): Promise<RoutedOutput> {
      const route = routes[task.model]
      const engines = route ? order(route, task.model) : []
      const attempts: EngineAttempt[] = []
      // Every engine unhealthy: rather than fail the job, try the one that reopens first.
      const usable = engines.filter((engine) => !task.imagePrompt || takesImagePrompt(engine, task.model))
      const blocked = usable.filter((engine) => healthOf(engine.name).circuit.blocked())
      const forced =
        blocked.length === usable.length && usable.length > 0
          ? blocked.reduce((a, b) => (healthOf(a.name).circuit.opensAt() <= healthOf(b.name).circuit.opensAt() ? a : b))
          : undefined
      let last: { error: EngineError; engine: string } | undefined
      for (const engine of engines) {
        const h = healthOf(engine.name)
        // allow() is asked only of the engine about to be tried: in half-open it hands out the probe.
        if (task.imagePrompt && !takesImagePrompt(engine, task.model)) {
          attempts.push({ engine: engine.name, skipped: 'takes no image prompt' })
          continue
        }
        if (engine !== forced && !h.circuit.allow()) {
          attempts.push({ engine: engine.name, skipped: `circuit open (${h.circuit.reason() ?? 'failing'})` })
          continue
        }
        const started = performance.now()
        try {
          const output = await engine.generate(task, ctx)
          h.succeeded(performance.now() - started)
          attempts.push({ engine: engine.name })
          return { output, engine: engine.name, local: engine.local, attempts }
        } catch (error) {
          const typed = isEngineError(error)
            ? error
            : new EngineError('failed', 'the engine failed unexpectedly', { cause: error })
          // A lost submit is final for its job, but says the engine is unhealthy (a 5xx, a
          // hang): later jobs should pass it over, and a lost probe opens the circuit again.
          h.failed(typed.submitLost ? 'unavailable' : typed.kind, typed.retryAfterMs)
          attempts.push({ engine: engine.name, error: { kind: typed.kind, message: typed.message } })
          if (typed.kind === 'canceled' || ctx.signal.aborted || !movesOn(engine, typed)) {
            throw new RoutedEngineError(withRequestId(typed, engine), engine.name, attempts)
          }
          // When every engine moves on, the most hopeful outcome decides the job: one that
          // rate limits or is down for now may serve a retry; a rejection is final.
          if (!last || (HOPE[typed.kind] ?? 0) > (HOPE[last.error.kind] ?? 0))
            last = { error: typed, engine: engine.name }
        }
      }
      const error = last?.error ?? new EngineError('unavailable', `no engine serves ${task.model}`)
      throw new RoutedEngineError(error, last?.engine ?? 'none', attempts)
    },
  }
}

/** Which moved-on outcome decides the job: the higher, the more a later attempt may succeed. */
const HOPE: Record<string, number> = { rate_limited: 4, unavailable: 3, insufficient_credits: 2, invalid: 1 }

const takesImagePrompt = (engine: ImageEngine, model: ModelId) =>
  typeof engine.takesImagePrompt === 'function' ? engine.takesImagePrompt(model) : engine.takesImagePrompt !== false

/** A lost submit's message names the provider's request id, for the operator to look it up there. */
function withRequestId(error: EngineError, engine: ImageEngine): EngineError {
  if (!error.submitLost || !error.requestId || error.message.includes(error.requestId)) return error
  return new EngineError(error.kind, `${error.message} (${engine.name} request ${error.requestId})`, {
    cause: error,
    submitLost: true,
    requestId: error.requestId,
    retryAfterMs: error.retryAfterMs,
  })
}

export type EngineRouter = ReturnType<typeof createEngineRouter>
