import type { Readable } from 'node:stream'
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { type BlobStore, contentTypeForKey, isValidKey } from '../blob-store.js'

export interface S3BlobStoreOptions {
  bucket: string
  /** Key prefix inside the bucket (`fluxhost/`), so one bucket can hold other things too. */
  prefix?: string
  /** An S3-compatible endpoint (MinIO, R2, s3rver); default: AWS for the region. */
  endpoint?: string
  region?: string
  credentials?: { accessKeyId: string; secretAccessKey: string }
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need. */
  forcePathStyle?: boolean
}

export interface S3BlobStore extends BlobStore {
  /** A presigned GET URL for the object, valid `ttlS` seconds. */
  presign(key: string, ttlS: number): Promise<string>
  close(): void
}

/**
 * Objects in an S3-compatible bucket. A PUT is atomic in S3 (readers see the old object, the
 * new one, or none), so `put` needs no temporary key.
 */
export function createS3BlobStore(options: S3BlobStoreOptions): S3BlobStore {
  const config: S3ClientConfig = {
    region: options.region ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
  }
  const client = new S3Client(config)
  const bucket = options.bucket
  const prefix = (options.prefix ?? '').replace(/^\/+/, '')
  const objectKey = (key: string): string => {
    if (!isValidKey(key)) throw new Error('invalid blob key')
    return `${prefix}${key}`
  }
  const missing = (error: unknown) =>
    error instanceof NoSuchKey ||
    error instanceof NotFound ||
    (error as { name?: string }).name === 'NotFound' ||
    (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404

  const head = async (key: string) => {
    try {
      const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }))
      return { size: Number(out.ContentLength ?? 0), contentType: out.ContentType ?? contentTypeForKey(key) }
    } catch (error) {
      if (missing(error)) return undefined
      throw error
    }
  }

  const get = async (key: string) => {
    try {
      return await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }))
    } catch (error) {
      if (missing(error)) return undefined
      throw error
    }
  }

  return {
    async put(key, data, contentType) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: objectKey(key),
          Body: data,
          ContentType: contentType,
          ContentLength: data.length,
        }),
      )
    },

    async stat(key) {
      if (!isValidKey(key)) return undefined
      return head(key)
    },

    async read(key) {
      if (!isValidKey(key)) return undefined
      const out = await get(key)
      if (!out?.Body) return undefined
      return Buffer.from(await out.Body.transformToByteArray())
    },

    async stream(key) {
      if (!isValidKey(key)) return undefined
      const out = await get(key)
      if (!out?.Body) return undefined
      return {
        body: out.Body as Readable,
        info: { size: Number(out.ContentLength ?? 0), contentType: out.ContentType ?? contentTypeForKey(key) },
      }
    },

    async delete(key) {
      if (!isValidKey(key)) return
      checkDeleted(
        await client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: objectKey(key) }], Quiet: true } }),
        ),
      )
    },

    async deletePrefix(keyPrefix) {
      if (!isValidKey(keyPrefix)) return
      const listPrefix = `${objectKey(keyPrefix)}/`
      let token: string | undefined
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: listPrefix, ContinuationToken: token }),
        )
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []))
        if (keys.length > 0)
          checkDeleted(
            await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } })),
          )
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
    },

    presign(key, ttlS) {
      return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }), { expiresIn: ttlS })
    },

    close() {
      client.destroy()
    },
  }
}

/** DeleteObjects answers 200 even when keys failed (AccessDenied, …): those are in `Errors`. */
function checkDeleted(out: { Errors?: { Key?: string; Code?: string; Message?: string }[] }): void {
  const failed = out.Errors ?? []
  if (failed.length > 0)
    throw new Error(
      `the bucket refused to delete ${failed.length} object(s): ` +
        `${failed[0]!.Code ?? 'error'} ${failed[0]!.Message ?? ''}`.trim(),
    )
}
