import { createHmac } from 'node:crypto'
import path from 'node:path'
import type { BlobStore } from '../blobs/blob-store.js'
import { createFsBlobStore } from '../blobs/fs/fs-blob-store.js'
import { createSecretBox, type SecretBox } from '../blobs/secret-box.js'
import { loadOrCreateSecret } from '../blobs/server-secret.js'
import { createUrlSigner, type UrlSigner } from '../blobs/url-signer.js'
import type { Config } from '../config/config.js'
import type { Clock } from '../domain/clock.js'
import type { Store } from '../store/store.js'

/** Where images are kept, and how their URLs are signed. */
export interface Files {
  blobs: BlobStore
  signer: UrlSigner
  /** Set when file URLs redirect to presigned bucket URLs (FLUXHOST_FILE_DELIVERY=redirect). */
  presign?: (key: string, ttlS: number) => Promise<string>
  /** Seals the webhook secrets kept in the records (keys' signing secrets, BFL's per-job `webhook_secret`). */
  secrets: SecretBox
  /** The key of provider callback URLs and secrets (engines/push.ts), derived from the server secret. */
  pushSecret: Buffer
  close(): void
}

/**
 * Opens the files, and seals the records' webhook secrets under a key derived from the same
 * server secret (clear-text ones left from before are sealed now; see docs/deploy.md).
 */
export async function openFiles(config: Config, store: Store, clock: Clock): Promise<Files> {
  // Loaded only when configured: the AWS SDK is a large import for every CLI command otherwise.
  const s3 = config.s3
    ? (await import('../blobs/s3/s3-blob-store.js')).createS3BlobStore({
        bucket: config.s3.bucket,
        prefix: config.s3.prefix,
        region: config.s3.region,
        ...(config.s3.endpoint ? { endpoint: config.s3.endpoint } : {}),
        ...(config.s3.credentials ? { credentials: config.s3.credentials } : {}),
      })
    : undefined
  // The server secret (file URLs, and the key that seals webhook secrets): configured; else,
  // on shared records, kept in them (one for every process); else the data dir's `secret` file.
  let secret: Buffer
  let secrets: SecretBox
  try {
    secret = config.fileUrlSecret
      ? Buffer.from(config.fileUrlSecret, 'hex')
      : store.kind === 'postgres'
        ? await store.secrets.loadOrCreate('file-url', clock.now())
        : loadOrCreateSecret(path.join(config.dataDir, 'secret'))
    secrets = createSecretBox(secret, 'webhook-secrets')
    store.keys.useSealer(secrets)
    await store.keys.sealClearWebhookSecrets()
  } catch (error) {
    s3?.close()
    throw error
  }
  return {
    blobs: s3 ?? createFsBlobStore(path.join(config.dataDir, 'blobs')),
    signer: createUrlSigner(secret, clock, config.fileUrlTtlS),
    secrets,
    pushSecret: createHmac('sha256', secret).update('engine-push').digest(),
    ...(s3 && config.fileDelivery === 'redirect' ? { presign: (key, ttlS) => s3.presign(key, ttlS) } : {}),
    close: () => s3?.close(),
  }
}
