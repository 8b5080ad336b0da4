import type { FastifyRequest } from 'fastify'
import { FluxhostError } from '../../../domain/errors.js'
import type { Job } from '../../../domain/job.js'
import type { Services } from '../../../services/services.js'
import { keyOf } from '../../auth.js'
import { syncTimeout } from './job-errors.js'

/** How a wait ended without the finished job, when it did not throw. */
export type Unheard = 'left'

/**
 * Waits for the job while the client is there, at most `timeoutMs`: the finished job, or
 * `left` once the client has left (the job goes on either way). Past the time, throws
 * SYNC_TIMEOUT naming the job; when `closing` fires (the process is shutting down), throws
 * SHUTTING_DOWN, which the client may retry elsewhere.
 */
export async function waitWhileHeard(
  services: Services,
  request: FastifyRequest,
  jobId: string,
  timeoutMs: number,
  closing: AbortSignal,
): Promise<Job | Unheard> {
  const timeout = AbortSignal.timeout(timeoutMs)
  const gone = new AbortController()
  const onClose = () => gone.abort()
  request.raw.socket.once('close', onClose)
  // A client that left before we started listening never fires 'close' for us.
  if (request.raw.socket.destroyed) onClose()
  try {
    return await services.jobs.wait(jobId, keyOf(request), AbortSignal.any([timeout, gone.signal, closing]))
  } catch (error) {
    if (gone.signal.aborted) return 'left'
    if (closing.aborted) throw new FluxhostError('SHUTTING_DOWN', { retryAfterS: 1 })
    if (timeout.aborted) throw syncTimeout(jobId)
    throw error
  } finally {
    request.raw.socket.off('close', onClose)
  }
}
