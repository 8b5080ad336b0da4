import type { AdminService } from './admin.js'
import type { IdempotencyService } from './idempotency.js'
import type { JobService } from './jobs.js'
import type { KeyEvents } from './key-events.js'
import type { KeyService } from './keys.js'
import type { LimitService } from './limits.js'
import type { RetentionService } from './retention.js'
import type { SystemService } from './system.js'
import type { WebhookService } from './webhooks.js'

/** Everything api/ and cli/ may call. */
export interface Services {
  jobs: JobService
  /** Every change of a key's jobs, as one stream (`GET /api/events`). */
  keyEvents: KeyEvents
  keys: KeyService
  system: SystemService
  webhooks: WebhookService
  idempotency: IdempotencyService
  admin: AdminService
  retention: RetentionService
  /** Per-key limits, credits and budgets, as admins set them and keys see them. */
  limits: LimitService
}
