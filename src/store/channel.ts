/**
 * Messages among the processes that share one set of records (PostgreSQL's LISTEN/NOTIFY).
 * At most once and unordered across senders: a process that is reconnecting misses what
 * was sent meanwhile, so nothing may depend on a message alone. The records stay the truth.
 */
export interface Channel {
  /** Sends `message` to every process listening on these records (this one too). */
  send(message: string): Promise<void>
  /** Starts listening (once); resolves once the first connection listens. Reconnects by itself. */
  listen(onMessage: (message: string) => void): Promise<void>
  /** Whether a connection listens right now (false while reconnecting, or never started). */
  listening(): boolean
  close(): Promise<void>
}

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. */
export const MAX_MESSAGE_BYTES = 7_900
