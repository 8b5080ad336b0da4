import type { Writable } from 'node:stream'
import { pino } from 'pino'

/** What a command reads and writes; tests pass their own. */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>
  cwd: string
  stdout: Writable & { isTTY?: boolean }
  stderr: Writable & { isTTY?: boolean }
  /** Where the server's JSON log lines go, and how to flush them before exiting. */
  log: { stream: pino.DestinationStream; flush(): Promise<void> }
  /** Registers a handler for SIGINT/SIGTERM; returns a function that removes it. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void
}

export function processIo(): CliIo {
  // Asynchronous: a line written while the previous write is in flight joins the next
  // write, so under load logging costs one syscall per batch, not one per request.
  const destination = pino.destination({ dest: 1, sync: false })
  return {
    log: {
      stream: destination,
      flush: () => new Promise((resolve) => destination.flush(() => resolve())),
    },
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    onSignal(handler) {
      process.on('SIGINT', handler)
      process.on('SIGTERM', handler)
      return () => {
        process.off('SIGINT', handler)
        process.off('SIGTERM', handler)
      }
    },
  }
}

/** Thrown by a command to end with an exit code after printing `message` to stderr. */
export class CliExit extends Error {
  constructor(
    readonly code: number,
    message = '',
  ) {
    super(message)
    this.name = 'CliExit'
  }
}
