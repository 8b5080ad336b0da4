import type { FastifyRequest } from 'fastify'
import type { Job } from '../../../domain/job.js'
import type { Services } from '../../../services/services.js'
import { keyOf } from '../../auth.js'
import { syncTimeout } from './job-errors.js'

/**
 * Waits for the job while the client is there, at most `timeoutMs`: the finished job, or
 * undefined once the client has left (the job goes on either way). Past the time, throws
 * SYNC_TIMEOUT naming the job.
 */
export async function waitWhileHeard(
  services: Services,
  request: FastifyRequest,
  jobId: string,
  timeoutMs: number,
): Promise<Job | undefined> {
  const timeout = AbortSignal.timeout(timeoutMs)
  const gone = new AbortController()
  const onClose = () => gone.abort()
  request.raw.socket.once('close', onClose)
  // A client that left before we started listening never fires 'close' for us.
  if (request.raw.socket.destroyed) onClose()
  try {
    return await services.jobs.wait(jobId, keyOf(request), AbortSignal.any([timeout, gone.signal]))
  } catch (error) {
    if (timeout.aborted) throw syncTimeout(jobId)
    if (gone.signal.aborted) return undefined
    throw error
  } finally {
    request.raw.socket.off('close', onClose)
  }
}
