import type { BlobStore } from '../blobs/blob-store.js'
import type { UrlSigner } from '../blobs/url-signer.js'
import type { Config } from '../config/load-config.js'
import type { Clock } from '../domain/clock.js'
import type { ImageEngine } from '../engines/engine.js'
import type { PushKeys } from '../engines/push.js'
import type { Metrics } from '../observability/metrics.js'
import type { JobEvents } from '../queue/job-events.js'
import type { Services } from '../services/services.js'

export interface WorkerInfo {
  enabled: boolean
  concurrency: number
  running(): number
}

/** What the HTTP layer is built from; `main.ts` supplies the real parts. */
export interface ApiDeps {
  services: Services
  config: Config
  signer: UrlSigner
  blobs: BlobStore
  /** Set when file URLs redirect to presigned bucket URLs (FLUXHOST_FILE_DELIVERY=redirect). */
  presign?: (key: string, ttlS: number) => Promise<string>
  /** Provider callbacks (FLUXHOST_PROVIDER_WEBHOOKS): checked here, handed to the job's worker as events. */
  enginePush?: {
    keys: PushKeys
    engines: ReadonlyMap<string, ImageEngine>
    events: Pick<JobEvents, 'publish'>
  }
  metrics: Metrics
  worker: WorkerInfo
  clock: Clock
  version: string
  startedAt: number
}
