import type { PushKeys, TaskPush } from '../engines/push.js'
import type { JobEvents } from '../queue/job-events.js'

/**
 * One running job's side of provider callbacks: its URLs and secrets, and wake-ups from
 * verified calls, which reach this process as `upstream` events (from its own API, or from
 * another process's over the records' channel). A call that comes while the engine is not
 * waiting (its poll is in flight) is remembered until the next wait.
 */
export function createJobPush(keys: PushKeys, events: JobEvents, jobId: string): TaskPush & { close(): void } {
  const arrived = new Set<string>()
  const waiting = new Map<string, () => void>()
  const unsubscribe = events.subscribe(jobId, (event) => {
    if (event.type !== 'upstream') return
    const id = `${event.engine}\n${event.task}`
    const wake = waiting.get(id)
    if (wake) wake()
    else arrived.add(id)
  })
  return {
    url: (engine, task) => keys.url(engine, jobId, task),
    secret: (engine, task) => keys.secret(engine, jobId, task),
    wake(engine, task, signal) {
      const id = `${engine}\n${task}`
      if (arrived.delete(id)) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          waiting.delete(id)
          signal.removeEventListener('abort', stop)
        }
        const stop = () => {
          done()
          reject(signal.reason)
        }
        if (signal.aborted) return reject(signal.reason)
        waiting.set(id, () => {
          done()
          resolve()
        })
        signal.addEventListener('abort', stop, { once: true })
      })
    },
    close: unsubscribe,
  }
}
