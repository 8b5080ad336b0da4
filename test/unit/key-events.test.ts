import pino from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Job, JobState } from '../../src/domain/job.js'
import { createLocalJobEvents } from '../../src/queue/job-events.js'
import { createKeyEvents, type KeyEvent } from '../../src/services/key-events.js'

// The journal's bookkeeping, with the process's own event bus and records read from a map.
const records = new Map<string, Job>()
const job = (id: string, apiKeyId: string, state: JobState) => {
  records.set(id, { id, apiKeyId, state, progress: 0 } as Job)
}

function setUp(options: { journalSize?: number; lingerMs?: number } = {}) {
  const events = createLocalJobEvents()
  const hub = createKeyEvents({
    events,
    read: async (id) => records.get(id),
    logger: pino({ level: 'silent' }),
    ...options,
  })
  const change = (id: string, apiKeyId: string, state: JobState) => {
    job(id, apiKeyId, state)
    events.publish({ type: 'state', jobId: id, state })
  }
  return { events, hub, change }
}

/** Resolves once `listener` has had `count` job events. */
const collect = (hub: ReturnType<typeof setUp>['hub'], apiKeyId: string, count: number, lastEventId?: string) => {
  const got: KeyEvent[] = []
  let done!: () => void
  const all = new Promise<void>((resolve) => (done = resolve))
  const following = hub.follow(apiKeyId, lastEventId, (event) => {
    got.push(event)
    if (got.filter((e) => e.type === 'job').length === count) done()
  })
  return { got, all, following }
}
const ids = (events: KeyEvent[] | 'reset') =>
  events === 'reset' ? 'reset' : events.map((e) => (e.type === 'job' ? `${e.job.id}:${e.job.state}` : 'progress'))

afterEach(() => {
  vi.useRealTimers()
  records.clear()
})

describe('key events: the journal that resumes a stream', () => {
  it('replays only what the key missed after an id, and says reset once that id has left the journal', async () => {
    const { hub, change } = setUp({ journalSize: 3 })
    const seen: KeyEvent[] = []
    let heard: (() => void) | undefined
    hub.follow('k1', undefined, (event) => {
      seen.push(event)
      heard?.()
    })
    hub.follow('k2', undefined, () => heard?.())
    // One change at a time, each read before the next (as when jobs change slower than reads).
    const step = async (id: string, key: string, state: JobState) => {
      const read = new Promise<void>((resolve) => (heard = resolve))
      change(id, key, state)
      await read
    }
    await step('a', 'k1', 'queued')
    await step('x', 'k2', 'queued')
    await step('a', 'k1', 'running')
    await step('b', 'k1', 'queued')
    await step('a', 'k1', 'succeeded')
    await step('b', 'k1', 'running')
    expect(ids(seen)).toEqual(['a:queued', 'a:running', 'b:queued', 'a:succeeded', 'b:running'])
    const idOf = (i: number) => (seen[i] as { id: string }).id
    // The journal holds the last 3 changes of all keys (4–6): after 3 it is whole, after 1 it is not.
    expect(ids(hub.follow('k1', idOf(1), () => {}).missed)).toEqual(['b:queued', 'a:succeeded', 'b:running'])
    expect(ids(hub.follow('k1', idOf(2), () => {}).missed)).toEqual(['a:succeeded', 'b:running'])
    expect(hub.follow('k1', idOf(4), () => {}).missed).toEqual([])
    expect(hub.follow('k1', idOf(0), () => {}).missed).toBe('reset')
    expect(hub.follow('k2', idOf(2), () => {}).missed).toEqual([])
    hub.close()
  })

  it('records a job once when two events read the same record (reads can come after later changes)', async () => {
    const { hub, change } = setUp()
    const watcher = collect(hub, 'k1', 1)
    change('a', 'k1', 'queued')
    change('a', 'k1', 'running')
    await watcher.all
    // Both events read the record as it is now (running): one change, not two.
    change('b', 'k1', 'queued')
    await new Promise<void>((resolve) => hub.follow('k1', undefined, () => resolve()))
    expect(ids(watcher.got.filter((e) => e.type === 'job'))).toEqual(['a:running', 'b:queued'])
    hub.close()
  })

  it('keeps journaling for a while after the last follower leaves, then starts a new epoch', async () => {
    vi.useFakeTimers()
    const { hub, change } = setUp({ lingerMs: 60_000 })
    const first = collect(hub, 'k1', 1)
    change('a', 'k1', 'queued')
    await first.all
    const last = (first.got[0] as { id: string }).id
    first.following.stop()
    change('b', 'k1', 'queued')
    await vi.advanceTimersByTimeAsync(59_000)
    const back = hub.follow('k1', last, () => {})
    expect(ids(back.missed)).toEqual(['b:queued'])
    back.stop()
    hub.close()

    const again = setUp({ lingerMs: 1000 })
    const one = collect(again.hub, 'k1', 1)
    again.change('c', 'k1', 'queued')
    await one.all
    const id = (one.got[0] as { id: string }).id
    one.following.stop()
    await vi.advanceTimersByTimeAsync(1000)
    const after = again.hub.follow('k1', id, () => {})
    expect(after.missed).toBe('reset')
    expect(after.since.split('-')[0]).not.toBe(id.split('-')[0])
    after.stop()
    again.hub.close()
  })

  it('hands progress to the key of a job seen running, and refuses followers past the limits', async () => {
    const { events, hub, change } = setUp()
    const watcher = collect(hub, 'k1', 1)
    change('a', 'k1', 'running')
    await watcher.all
    events.publish({ type: 'progress', jobId: 'a', progress: 0.5 })
    events.publish({ type: 'progress', jobId: 'unknown', progress: 0.5 })
    expect(watcher.got.at(-1)).toEqual({ type: 'progress', jobId: 'a', progress: 0.5 })
    expect(watcher.got).toHaveLength(2)
    hub.close()

    const limited = createKeyEvents({
      events: createLocalJobEvents(),
      read: async () => undefined,
      logger: pino({ level: 'silent' }),
      maxPerKey: 2,
      maxTotal: 3,
    })
    limited.follow('k1', undefined, () => {})
    const second = limited.follow('k1', undefined, () => {})
    expect(() => limited.follow('k1', undefined, () => {})).toThrow(/2 event streams/)
    limited.follow('k2', undefined, () => {})
    expect(() => limited.follow('k3', undefined, () => {})).toThrow(/as many event streams/)
    second.stop()
    second.stop() // (twice frees one place, not two)
    limited.follow('k3', undefined, () => {})
    expect(() => limited.follow('k4', undefined, () => {})).toThrow(/as many event streams/)
    limited.close()
  })
})
