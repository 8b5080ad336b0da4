import pino, { type DestinationStream, type Logger } from 'pino'
import { LOG_REDACT_PATHS } from './redact.js'

/** The server's logger: JSON lines, with credentials censored wherever a logged object carries them. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } }
  return destination ? pino(options, destination) : pino(options)
}
