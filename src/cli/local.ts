import { pino } from 'pino'
import type { UrlSigner } from '../blobs/url-signer.js'
import { openFiles } from '../compose/files.js'
import { openRecords } from '../compose/records.js'
import { buildServices } from '../compose/services.js'
import type { Config } from '../config/config.js'
import { systemClock } from '../domain/clock.js'
import { ENGINE_REGISTRY } from '../engines/registry.js'
import { buildEngineRoutes } from '../engines/routes.js'
import type { Services } from '../services/services.js'

export interface LocalRecords {
  services: Services
  signer: UrlSigner
}

/**
 * The records this machine's configuration names, for one command: the store (migrated),
 * the blob store and file-URL signer, and the services over them — no HTTP, no workers, no
 * LISTEN connection (a cancel or redelivery is still announced to the processes that
 * listen), and engines that are built but never called (a cancel says whether the engine
 * running the job can stop it).
 */
export async function withRecords<T>(config: Config, fn: (local: LocalRecords) => Promise<T>): Promise<T> {
  const logger = pino({ level: 'silent' })
  const records = await openRecords(config, { logger, listen: false })
  try {
    const files = await openFiles(config, records.store, systemClock)
    let outbound: ReturnType<typeof buildServices>['outbound'] | undefined
    try {
      const { router } = buildEngineRoutes(config, ENGINE_REGISTRY)
      const built = buildServices({
        ...records,
        blobs: files.blobs,
        secrets: files.secrets,
        router,
        config,
        clock: systemClock,
        logger,
      })
      outbound = built.outbound
      await built.services.keys.syncStaticKeys()
      return await fn({ services: built.services, signer: files.signer })
    } finally {
      await outbound?.close()
      files.close()
    }
  } finally {
    await records.close()
  }
}

/** Where the server is reached, for URLs printed by local commands. */
export function baseUrlOf(config: Config): string {
  if (config.publicUrl) return config.publicUrl
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`
}
