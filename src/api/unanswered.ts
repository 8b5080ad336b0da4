import type { FastifyReply, FastifyRequest } from 'fastify'
import type { IdempotencyService } from '../services/idempotency.js'
import { fingerprint } from './fingerprint.js'

/** Where Stainless-built SDKs (OpenAI's, in Node, browsers and Python) number their tries. */
export const SDK_RETRY_HEADER = 'x-stainless-retry-count'

/**
 * Retries of a call without an Idempotency-Key (OpenAI's SDKs send none) join the job of the
 * try before when that try's answer never reached the client (see `joinUnanswered`).
 */
export interface SdkRetries {
  /** The request's try (0: the first), undefined when it says none; throws on a malformed mark. */
  attemptOf(request: FastifyRequest): number | undefined
  /** How long after a try's client left (or its wait timed out) a retry may still join its job. */
  windowMs: number
  /** Called when a job is left for a retry (`left`, `timed-out`, `shutdown`), and when a retry joins one. */
  onEvent?(event: Unanswered | 'joined'): void
}

/**
 * Why a job's answer did not reach its client: it left (499), the wait timed out (504), or the
 * process was shutting down (503).
 */
const CLIENT_LEFT = 499
const TIMED_OUT = 504
const SHUT_DOWN = 503

/** Why a job is left: its client left, its wait timed out, or the process is shutting down. */
export type Unanswered = 'left' | 'timed-out' | 'shutdown'
const STATUS: Record<Unanswered, number> = { left: CLIENT_LEFT, 'timed-out': TIMED_OUT, shutdown: SHUT_DOWN }

/** Calls without an Idempotency-Key on a route with `sdkRetries`: what `leaveForRetry` needs. */
const unansweredCalls = new WeakMap<
  FastifyRequest,
  {
    apiKeyId: string
    fingerprint: string
    sdk: SdkRetries
    service: IdempotencyService
  }
>()

/**
 * Leaves the job of a call without an Idempotency-Key whose answer will not reach its client
 * (`left`: it hung up; `timed-out`: the wait outlived the sync timeout) for its retry to join
 * (`joinUnanswered`). A call with a key needs none of this: its key replays the job.
 */
export async function leaveForRetry(request: FastifyRequest, jobId: string, why: Unanswered): Promise<void> {
  const call = unansweredCalls.get(request)
  if (!call) return
  try {
    await call.service.noteUnanswered(call.apiKeyId, call.fingerprint, jobId, STATUS[why], call.sdk.windowMs)
    call.sdk.onEvent?.(why)
  } catch (error) {
    // The answer (a 504 naming the job, or none) matters more than the note: log, go on.
    request.log.warn({ err: error, jobId }, 'sync:leave-for-retry-failed')
  }
}

/**
 * A call without an Idempotency-Key: its fingerprint is noted (`leaveForRetry` needs it),
 * and a retry joins the oldest job of the same API key and body whose answer never reached
 * its client, taking it (no other retry can): for a try the SDK marks as a retry, a job whose
 * client left (a client-side timeout; 499); for a request without the mark, a job whose wait
 * timed out (504); for either, one whose wait a shutdown cut short (503). A marked first try
 * takes none. True when it has answered.
 */
export async function joinUnanswered(
  request: FastifyRequest,
  reply: FastifyReply,
  sdk: SdkRetries,
  service: IdempotencyService,
  replayJob: (request: FastifyRequest, reply: FastifyReply, jobId: string) => Promise<unknown>,
): Promise<boolean> {
  const attempt = sdk.attemptOf(request)
  if (request.apiKey === null) return false
  const call = { apiKeyId: request.apiKey.id, fingerprint: await fingerprint(request), sdk, service }
  unansweredCalls.set(request, call)
  // The SDK's first try is a new call, whatever came before it.
  if (attempt === 0) return false
  // A marked retry takes only a job whose client left: OpenAI's SDKs never retry our 504 (it
  // says x-should-retry: false), so a 504's job is another call's. An unmarked request (the AI
  // SDK's OpenAI provider retries a 504 by itself) takes only a 504's. Either takes a job whose
  // wait a shutdown cut short (503).
  const statuses = attempt === undefined ? [TIMED_OUT, SHUT_DOWN] : [CLIENT_LEFT, SHUT_DOWN]
  const jobId = await service.takeUnanswered(call.apiKeyId, call.fingerprint, statuses)
  if (jobId === undefined) return false
  sdk.onEvent?.('joined')
  await replayJob(request, reply, jobId)
  return true
}
