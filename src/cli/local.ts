import { pino } from 'pino'
import type { Config } from '../config/load-config.js'
import { createFluxhost, type Fluxhost } from '../main.js'

/** The records on this machine's data dir, without HTTP or workers, for one command. */
export async function withLocalFluxhost<T>(config: Config, fn: (fluxhost: Fluxhost) => Promise<T>): Promise<T> {
  const fluxhost = await createFluxhost(config, { http: false, worker: false, logger: pino({ level: 'silent' }) })
  try {
    return await fn(fluxhost)
  } finally {
    await fluxhost.close(0)
  }
}

/** Where the server is reached, for URLs printed by local commands. */
export function baseUrlOf(config: Config): string {
  if (config.publicUrl) return config.publicUrl
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`
}
