import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { FluxhostError } from '../domain/errors.js'
import type { Job } from '../domain/job.js'
import type { JobEvents } from '../queue/job-events.js'

const READ_TIMEOUT_MS = 5000

/** A change of one of a key's jobs: its whole record (`id` resumes after it), or a progress step. */
export type KeyEvent = { type: 'job'; id: string; job: Job } | { type: 'progress'; jobId: string; progress: number }

export interface KeyEventsOptions {
  events: JobEvents
  /** The record of a job, whoever owns it (the job service's read, with its cache of finished jobs). */
  read(jobId: string): Promise<Job | undefined>
  logger: Logger
  /** How many job changes are kept for resuming (all keys together). Default 2,000. */
  journalSize?: number
  /** How long changes are still journaled after the last follower left. Default 60 s. */
  lingerMs?: number
  /** Followers at once, per key and in all. Default 16 and 1,000. */
  maxPerKey?: number
  maxTotal?: number
}

/** What a follower gets when it starts: the changes it missed, or `reset` when they are not all known here. */
export interface Following {
  missed: KeyEvent[] | 'reset'
  /** The id of the newest change journaled (of any key): where a stream with nothing to resume starts. */
  since: string
  stop(): void
}

interface Entry {
  seq: number
  apiKeyId: string
  job: Job
}

/**
 * One stream of every job change of a key, for pages that show many of its jobs at once
 * (`GET /api/events`). One listener on the process's job events reads each changed job once
 * (not once per follower) and hands it to the followers of its key. Changes are journaled in
 * memory, numbered `<epoch>-<seq>`: a follower that comes back with the last id it saw gets what
 * it missed, as long as the journal still holds it; else (a restart, another process, too long
 * away) it is told `reset`, and reads the jobs again. The journal keeps recording for `lingerMs`
 * after the last follower leaves, so a page's reconnection resumes; when it stops, the epoch
 * changes with the next start.
 */
export function createKeyEvents(options: KeyEventsOptions) {
  const { events, read, logger } = options
  const journalSize = options.journalSize ?? 2000
  const lingerMs = options.lingerMs ?? 60_000
  const maxPerKey = options.maxPerKey ?? 16
  const maxTotal = options.maxTotal ?? 1000

  const followers = new Map<string, Set<(event: KeyEvent) => void>>()
  let total = 0
  const journal: Entry[] = []
  let epoch = ''
  let seq = 0
  // The key of each job seen running, for its progress events (which name the job only).
  const running = new Map<string, string>()
  // What was last recorded of each recent job (state and progress).
  const lastSeen = new Map<string, string>()
  let unsubscribe: (() => void) | undefined
  let linger: NodeJS.Timeout | undefined
  let chain = Promise.resolve()

  const deliver = (apiKeyId: string, event: KeyEvent) => {
    for (const listener of [...(followers.get(apiKeyId) ?? [])]) {
      // One follower's failure is its own: never the publisher's (a worker's progress) or the others'.
      try {
        listener(event)
      } catch (error) {
        logger.warn({ err: error }, 'key-events: a follower failed')
      }
    }
  }
  const record = (job: Job) => {
    // Each event is followed by a read of the job as it is then: on shared records the read can
    // come after later changes, and two events read the same record. It is recorded once.
    const marks = `${job.deletedAt ? 'deleted' : ''}:${job.favouriteAt ? 'favourite' : ''}`
    const seen = `${job.state}:${job.progress}:${marks}`
    if (lastSeen.get(job.id) === seen) return
    if (lastSeen.size >= 10_000 && !lastSeen.has(job.id)) lastSeen.clear()
    lastSeen.set(job.id, seen)
    if (job.state === 'running') {
      if (running.size >= 10_000 && !running.has(job.id)) running.clear()
      running.set(job.id, job.apiKeyId)
    } else running.delete(job.id)
    const entry = { seq: ++seq, apiKeyId: job.apiKeyId, job }
    journal.push(entry)
    if (journal.length > journalSize) journal.splice(0, journal.length - journalSize)
    deliver(job.apiKeyId, { type: 'job', id: `${epoch}-${entry.seq}`, job })
  }
  // Reads in the order the events came, so a follower never gets an older record after a newer one.
  const reread = (jobId: string) => {
    chain = chain
      .then(async () => {
        // A read that hangs must not hold every later change back: it is given up after 5 s
        // (the followers' pages catch up by reading their unfinished jobs now and then).
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('the read of the job took over 5 s')), READ_TIMEOUT_MS)
        })
        const job = await Promise.race([read(jobId), late]).finally(() => clearTimeout(timer))
        if (job && unsubscribe) record(job)
      })
      .catch((error: unknown) => logger.warn({ err: error, jobId }, 'key-events: could not read the job'))
  }

  const listen = () => {
    clearTimeout(linger)
    linger = undefined
    if (unsubscribe) return
    epoch = randomBytes(6).toString('base64url')
    seq = 0
    journal.length = 0
    unsubscribe = events.subscribeAll((event) => {
      if (event.type === 'state' || event.type === 'changed') reread(event.jobId)
      else if (event.type === 'progress') {
        const apiKeyId = running.get(event.jobId)
        if (apiKeyId) deliver(apiKeyId, { type: 'progress', jobId: event.jobId, progress: event.progress })
      }
    })
  }
  const quiet = () => {
    unsubscribe?.()
    unsubscribe = undefined
    journal.length = 0
    running.clear()
    lastSeen.clear()
  }

  /** What `lastEventId` missed of `apiKeyId`'s changes; `reset` when the journal cannot say. */
  const missedSince = (apiKeyId: string, lastEventId: string | undefined): KeyEvent[] | 'reset' => {
    if (lastEventId === undefined) return []
    const match = /^([\w-]{1,16})-(\d{1,15})$/.exec(lastEventId)
    if (!match || match[1] !== epoch) return 'reset'
    const after = Number(match[2])
    if (after > seq) return 'reset'
    // Entry seq n sits at index n - first: the journal holds seq first … seq, in order.
    const first = journal[0]?.seq ?? seq + 1
    if (after < first - 1) return 'reset'
    return journal
      .slice(after - first + 1)
      .filter((entry) => entry.apiKeyId === apiKeyId)
      .map((entry) => ({ type: 'job', id: `${epoch}-${entry.seq}`, job: entry.job }))
  }

  return {
    /**
     * Follows `apiKeyId`'s jobs from now on (and from `lastEventId`, when the journal has it).
     * Throws RATE_LIMITED when the key (or the server) has as many followers as it may.
     */
    follow(apiKeyId: string, lastEventId: string | undefined, listener: (event: KeyEvent) => void): Following {
      const mine = followers.get(apiKeyId) ?? new Set()
      if (mine.size >= maxPerKey || total >= maxTotal)
        throw new FluxhostError('RATE_LIMITED', {
          message:
            mine.size >= maxPerKey
              ? `This key follows its jobs on ${maxPerKey} event streams already; close one first.`
              : 'The server has as many event streams open as it may; retry later.',
          retryAfterS: 5,
        })
      listen()
      const missed = missedSince(apiKeyId, lastEventId)
      mine.add(listener)
      followers.set(apiKeyId, mine)
      total++
      let stopped = false
      return {
        missed,
        since: `${epoch}-${seq}`,
        stop() {
          if (stopped) return
          stopped = true
          mine.delete(listener)
          if (mine.size === 0) followers.delete(apiKeyId)
          total--
          if (total === 0) {
            linger = setTimeout(quiet, lingerMs)
            linger.unref()
          }
        },
      }
    },

    close() {
      clearTimeout(linger)
      quiet()
    },
  }
}

export type KeyEvents = ReturnType<typeof createKeyEvents>
