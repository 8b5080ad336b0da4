import type { ModelId } from '../domain/models.js'
import type { EngineContext, EngineOutput, EngineTask, ImageEngine } from './engine.js'
import { EngineError, isEngineError } from './engine-error.js'

export interface EngineAttempt {
  engine: string
  error?: { kind: string; message: string }
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
    super(cause.kind, cause.message, { retryAfterMs: cause.retryAfterMs, cause })
  }
}

/**
 * Maps each model to an ordered list of engines. `unavailable` and `insufficient_credits`
 * move on to the next engine; any other outcome is final for this attempt.
 */
export function createEngineRouter(routes: Partial<Record<ModelId, ImageEngine[]>>) {
  return {
    enginesFor(model: ModelId): readonly ImageEngine[] {
      return routes[model] ?? []
    },

    /** Whether `X-Fluxhost-Simulate` applies to jobs of this model (its first engine simulates). */
    simulates(model: ModelId, allowAll: boolean): boolean {
      return allowAll || routes[model]?.[0]?.name === 'preview'
    },

    async generate(task: EngineTask, ctx: EngineContext): Promise<RoutedOutput> {
      const engines = routes[task.model] ?? []
      const attempts: EngineAttempt[] = []
      let last: { error: EngineError; engine: string } | undefined
      for (const engine of engines) {
        try {
          const output = await engine.generate(task, ctx)
          attempts.push({ engine: engine.name })
          return { output, engine: engine.name, local: engine.local, attempts }
        } catch (error) {
          const typed = isEngineError(error)
            ? error
            : new EngineError('failed', 'the engine failed unexpectedly', { cause: error })
          attempts.push({ engine: engine.name, error: { kind: typed.kind, message: typed.message } })
          if (typed.kind !== 'unavailable' && typed.kind !== 'insufficient_credits') {
            throw new RoutedEngineError(typed, engine.name, attempts)
          }
          last = { error: typed, engine: engine.name }
        }
      }
      const error = last?.error ?? new EngineError('unavailable', `no engine serves ${task.model}`)
      throw new RoutedEngineError(error, last?.engine ?? 'none', attempts)
    },
  }
}

export type EngineRouter = ReturnType<typeof createEngineRouter>
