import { isTerminal, type Job } from '../domain/job.js'

/** The `webhookEvents` name of a finished job's ending: `completed`, or `failed` (failed or canceled). */
export function endingEvent(job: Job): 'completed' | 'failed' {
  return job.state === 'succeeded' ? 'completed' : 'failed'
}

/**
 * Whether the job's webhook is to be sent for how it ended (Apiframe's `webhookEvents`; no
 * list: every ending). Progress events are never sent, so only the two endings count.
 */
export function endingWanted(job: Job): boolean {
  const events = job.request.webhook?.events
  return events === undefined || events.includes(endingEvent(job))
}

/** Whether a job will (or did) send a webhook at all: it has one, and some ending is wanted. */
export function sendsWebhook(job: Job): boolean {
  const webhook = job.request.webhook
  if (!webhook) return false
  if (isTerminal(job.state)) return endingWanted(job)
  return webhook.events === undefined || webhook.events.some((event) => event !== 'progress')
}
