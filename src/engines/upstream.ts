/** What the engines share when they talk to an upstream over HTTP. */
import { EngineError } from './engine-error.js'

/**
 * A counting semaphore whose waiters can give up: a canceled job stops waiting for a slot.
 * Engines use it to cap the tasks they have upstream at once.
 */
export function createSemaphore(limit: number, what: string) {
  let active = 0
  const waiting: (() => void)[] = []
  return {
    async acquire(signal: AbortSignal): Promise<void> {
      if (signal.aborted) throw new EngineError('canceled', `canceled while waiting for a free ${what} slot`)
      if (active < limit) {
        active++
        return
      }
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal.removeEventListener('abort', stop)
          active++
          resolve()
        }
        const stop = () => {
          waiting.splice(waiting.indexOf(go), 1)
          reject(new EngineError('canceled', `canceled while waiting for a free ${what} slot`))
        }
        waiting.push(go)
        signal.addEventListener('abort', stop, { once: true })
      })
    },
    release(): void {
      active--
      waiting.shift()?.()
    },
    active: () => active,
  }
}

/** Connection errors raised before a request was sent: the upstream never saw it. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
])

export function notSentCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code && NOT_SENT.has(code) ? code : undefined
}

/** An upstream's JSON body, or undefined when it is not JSON. */
export function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T
  } catch {
    return undefined
  }
}
