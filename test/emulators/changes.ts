import { EventEmitter } from 'node:events'

/**
 * An emulator's state-change signal: `changed()` after every change, `until(predicate)` for
 * tests to wait on a state without polling or sleeping.
 */
export function createChanges(name: string) {
  const emitter = new EventEmitter().setMaxListeners(0)
  return {
    changed: () => void emitter.emit('change'),
    /** Resolves once `predicate` holds, checked now and after every change. */
    until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
      return new Promise((done, fail) => {
        const check = () => {
          if (!predicate()) return
          clearTimeout(timer)
          emitter.off('change', check)
          done()
        }
        const timer = setTimeout(() => {
          emitter.off('change', check)
          fail(new Error(`the ${name} emulator never reached the expected state`))
        }, timeoutMs)
        emitter.on('change', check)
        check()
      })
    },
  }
}
