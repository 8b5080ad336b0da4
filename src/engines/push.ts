import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

/** Where a provider calls when one task of a job ends, and how a verified call wakes that task. */
export interface TaskPush {
  /** The URL the provider is given for task `task` (0-based) of this job. */
  url(engine: string, task: number): string
  /** A per-task secret any fluxhost process can derive again (BFL echoes it in X-Webhook-Secret). */
  secret(engine: string, task: number): string
  /**
   * Resolves when a verified call for that task has arrived (at once if one came since the last
   * wake); never otherwise. Rejects when the signal aborts.
   */
  wake(engine: string, task: number, signal: AbortSignal): Promise<void>
}

/** A provider's call to fluxhost's push URL, for its engine to verify by the provider's scheme. */
export interface PushCall {
  headers: IncomingHttpHeaders
  /** The raw body, as signed. */
  body: Buffer
  /** The secret derived for this task (what BFL echoes). */
  secret: string
}

/**
 * The push URLs' credentials, derived from the server secret so that any process (the one
 * whose worker runs the job, or another behind the same load balancer) can check a call:
 * the path carries an HMAC of engine, job and task, and the per-task secret is another.
 */
export function createPushKeys(serverSecret: Buffer, publicUrl: string) {
  const base = publicUrl.replace(/\/+$/, '')
  const mac = (purpose: string, engine: string, jobId: string, task: number) =>
    createHmac('sha256', serverSecret).update(`${purpose}\n${engine}\n${jobId}\n${task}`).digest('base64url')
  const token = (engine: string, jobId: string, task: number) => mac('push-url', engine, jobId, task).slice(0, 32)
  return {
    url: (engine: string, jobId: string, task: number) =>
      `${base}/api/engine-hooks/${encodeURIComponent(engine)}/${encodeURIComponent(jobId)}/${task}/` +
      token(engine, jobId, task),
    secret: (engine: string, jobId: string, task: number) => mac('push-secret', engine, jobId, task),
    /** Whether a call's path token is the one made for this engine, job and task. */
    check(engine: string, jobId: string, task: number, given: string): boolean {
      const expected = Buffer.from(token(engine, jobId, task))
      const actual = Buffer.from(given)
      return actual.length === expected.length && timingSafeEqual(actual, expected)
    },
  }
}

export type PushKeys = ReturnType<typeof createPushKeys>

/** Compares two secrets in constant time. */
export function sameSecret(given: string | string[] | undefined, expected: string): boolean {
  const value = Array.isArray(given) ? given[0] : given
  if (!value) return false
  const a = Buffer.from(value)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
