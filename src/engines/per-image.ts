import type { EngineContext, EngineTask } from './engine.js'
import { keepsMade } from './engine-error.js'
import type { createSemaphore } from './upstream.js'

type Slots = ReturnType<typeof createSemaphore>

/**
 * One upstream task per image, for providers that make one image a task (BFL, Replicate,
 * Apiframe, SeaArt): one after the other (seeds counting up is the caller's), each in a slot
 * of the engine's concurrency, progress spread over them. When a later image fails after
 * earlier ones were made (and billed), those are kept and `short` says so (`keepsMade`).
 */
export async function eachImage<T>(
  task: EngineTask,
  ctx: EngineContext,
  slots: Slots,
  make: (index: number, progress: (fraction: number) => void) => Promise<T>,
): Promise<{ made: T[]; short: boolean }> {
  const made: T[] = []
  for (let i = 0; i < task.numImages; i++) {
    await slots.acquire(ctx.signal)
    try {
      made.push(await make(i, (fraction) => ctx.progress((i + Math.min(0.99, fraction)) / task.numImages)))
    } catch (error) {
      if (!keepsMade(error, i)) throw error
      return { made, short: true }
    } finally {
      slots.release()
    }
    ctx.progress((i + 1) / task.numImages)
  }
  return { made, short: false }
}
