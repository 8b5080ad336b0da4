import type { Readable } from 'node:stream'

export interface BlobInfo {
  size: number
  contentType: string
}

/**
 * Where images live. Keys are relative paths of safe segments (`jobs/<id>/0.jpeg`);
 * `isValidKey` is the one gate every implementation applies.
 */
export interface BlobStore {
  /** Writes atomically: a reader sees the old object, the new one, or none; never half. */
  put(key: string, data: Buffer, contentType: string): Promise<void>
  stat(key: string): Promise<BlobInfo | undefined>
  read(key: string): Promise<Buffer | undefined>
  stream(key: string): Promise<{ body: Readable; info: BlobInfo } | undefined>
  delete(key: string): Promise<void>
  /** Deletes every key under `prefix/`. */
  deletePrefix(prefix: string): Promise<void>
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/

/** A key is 1–8 segments of letters, digits, `_`, `-`, `.`, none of them `.` or `..`. */
export function isValidKey(key: string): boolean {
  if (key.length === 0 || key.length > 512) return false
  const segments = key.split('/')
  return segments.length <= 8 && segments.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')
}

const TYPES: Readonly<Record<string, string>> = {
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
}

export function contentTypeForKey(key: string): string {
  const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase()
  return TYPES[ext] ?? 'application/octet-stream'
}
