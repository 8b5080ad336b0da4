import { EventSourceParserStream } from 'eventsource-parser/stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, KEY_A, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ FLUXHOST_WORKER_CONCURRENCY: '2' })
})
afterAll(async () => {
  await server.close()
})

interface Message {
  event: string
  id: string | undefined
  data: any
}

/** One `GET /api/events` stream, read as it comes: `until` waits for the message a test expects. */
async function follow(key: string, init: { lastEventId?: string; query?: string } = {}) {
  const abort = new AbortController()
  const headers: Record<string, string> = { 'x-key': key }
  if (init.lastEventId !== undefined) headers['last-event-id'] = init.lastEventId
  const response = await fetch(`${server.url}/api/events${init.query ?? ''}`, { headers, signal: abort.signal })
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toContain('text/event-stream')
  const messages = response
    .body!.pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    [Symbol.asyncIterator]()
  const seen: Message[] = []
  return {
    seen,
    async until(match: (message: Message) => boolean): Promise<Message> {
      for (;;) {
        const next = await messages.next()
        if (next.done) throw new Error(`the stream ended before the message came; it had: ${JSON.stringify(seen)}`)
        const { event = 'message', id, data } = next.value
        const message = { event, id, data: JSON.parse(data) }
        seen.push(message)
        if (match(message)) return message
      }
    },
    close: () => abort.abort(),
  }
}

/** A job's states as a stream gave them: never a step back, ending succeeded. */
const expectForward = (states: string[]) => {
  const order = ['queued', 'running', 'succeeded']
  expect(states.at(-1)).toBe('succeeded')
  for (let i = 1; i < states.length; i++)
    expect(order.indexOf(states[i]!)).toBeGreaterThanOrEqual(order.indexOf(states[i - 1]!))
}

const create = (key = KEY_A, prompt = 'followed') =>
  api(`${server.url}/api/jobs`, { body: { prompt, width: 256, height: 256 }, key })
const ended = (jobId: string) => (m: Message) =>
  m.event === 'job' && m.data.id === jobId && m.data.state === 'succeeded'

describe('GET /api/events: every change of the key’s jobs', () => {
  it("streams the key's jobs (each state with the whole job, progress between), never another key's", async () => {
    const stream = await follow(KEY_A)
    await stream.until((m) => m.event === 'ready')
    const other = (await create(KEY_B)).body.id
    const mine = (await create(KEY_A)).body.id
    const last = await stream.until(ended(mine))
    expect(last.id).toMatch(/^[\w-]+-\d+$/)
    expect(last.data.result.images[0].url).toContain('/files/')
    // Each change carries the job as read just after it: on shared records (PostgreSQL) that read
    // may come after a later change, so a state can be skipped or read twice (with more progress
    // saved), never reversed.
    const states = stream.seen.filter((m) => m.event === 'job' && m.data.id === mine).map((m) => m.data.state)
    expectForward(states)
    expect(stream.seen.some((m) => m.event === 'progress' && m.data.id === mine)).toBe(true)
    // B's job was made first, and its changes are read in order: it would have come before.
    expect(JSON.stringify(stream.seen)).not.toContain(other)
    stream.close()
  })

  it('says a deleted job is gone (its id only), live and in a replay', async () => {
    const id = (await create(KEY_A, 'to be deleted')).body.id as string
    await server.waitForJob(id)
    const stream = await follow(KEY_A)
    const ready = await stream.until((m) => m.event === 'ready')
    expect((await api(`${server.url}/api/jobs/${id}`, { method: 'DELETE' })).status).toBe(204)
    const gone = await stream.until((m) => m.event === 'deleted')
    expect(gone.data).toEqual({ id })
    expect(gone.id).toMatch(/^[\w-]+-\d+$/)
    stream.close()
    // A client that was away gets it on resuming.
    const again = await follow(KEY_A, { lastEventId: ready.id })
    expect((await again.until((m) => m.event === 'deleted')).data).toEqual({ id })
    again.close()
  })

  it('resumes after Last-Event-ID (header or query) with what the client missed, and nothing before', async () => {
    const first = await follow(KEY_A)
    await first.until((m) => m.event === 'ready')
    const before = (await create()).body.id
    const lastSeen = (await first.until(ended(before))).id!
    first.close()
    const missed = (await create(KEY_A, 'while away')).body.id
    await server.waitForJob(missed)

    for (const init of [{ lastEventId: lastSeen }, { query: `?lastEventId=${encodeURIComponent(lastSeen)}` }]) {
      const again = await follow(KEY_A, init)
      const ready = await again.until((m) => m.event === 'ready')
      // The job's end may still be on its way into the server's journal (it is read after each
      // change, on PostgreSQL a round trip later than the waiter heard it): then it comes live,
      // just after `ready`. Either way the client gets it, and nothing from before it was away.
      if (!again.seen.some(ended(missed))) await again.until(ended(missed))
      const replayed = again.seen.filter((m) => m.event === 'job')
      expectForward(replayed.map((m) => m.data.state))
      expect(replayed.every((m) => m.data.id === missed)).toBe(true)
      expect(again.seen.some((m) => m.event === 'reset')).toBe(false)
      // Ids go on from where the client was: it resumes after `ready` the next time.
      expect(Number(ready.id!.split('-').at(-1))).toBeGreaterThan(Number(lastSeen.split('-').at(-1)))
      again.close()
    }
  })

  it('says reset when the changes since the id are not known here (another run of the server, a bad id)', async () => {
    for (const lastEventId of ['Zm9vYmFy-3', 'not an id', 'x'.repeat(200)]) {
      const stream = await follow(KEY_A, { lastEventId })
      await stream.until((m) => m.event === 'ready')
      expect(stream.seen.map((m) => m.event)).toEqual(['reset', 'ready'])
      stream.close()
    }
  })

  it('refuses a 17th stream of one key with 429 in the native shape, and frees the place on close', async () => {
    const streams = []
    for (let i = 0; i < 16; i++) streams.push(await follow(KEY_B))
    const refused = await api(`${server.url}/api/events`, { key: KEY_B })
    expect(refused.status).toBe(429)
    expect(refused.body.error).toMatchObject({ code: 'RATE_LIMITED' })
    expect(refused.body.error.message).toContain('16 event streams')
    expect(refused.headers.get('retry-after')).toBe('5')
    // Another key is not held back by B's streams.
    const a = await follow(KEY_A)
    await a.until((m) => m.event === 'ready')
    a.close()
    for (const stream of streams) stream.close()
    // Closing is seen by the server when the socket ends: wait for that (a fresh stream gets in).
    const waitForPlace = async (): Promise<void> => {
      const response = await fetch(`${server.url}/api/events`, { headers: { 'x-key': KEY_B } })
      if (response.status === 200) return void (await response.body!.cancel())
      await response.arrayBuffer()
      await new Promise((resolve) => setImmediate(resolve))
      return waitForPlace()
    }
    await waitForPlace()
  })

  it('ends a replay bigger than its buffer, and the client resumes from what it got, to the end', async () => {
    const first = await follow(KEY_B)
    const since = (await first.until((m) => m.event === 'ready')).id!
    first.close()
    const big = 'x'.repeat(9000)
    const made = new Set<string>()
    for (let i = 0; i < 60; i++) made.add((await create(KEY_B, `${i} ${big}`)).body.id)
    for (const id of made) await server.waitForJob(id)
    // ~60 × 3 changes of ~9 KB each: more than the 1 MiB a stream may hold back. Each connection
    // ends after what it could send; the next one goes on from the last id it got.
    const ended = new Set<string>()
    let last = since
    let connections = 0
    for (let ready = false; !ready; ) {
      connections++
      const response = await fetch(`${server.url}/api/events`, { headers: { 'x-key': KEY_B, 'last-event-id': last } })
      const messages = response.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream())
      for await (const message of messages as unknown as AsyncIterable<{ event?: string; id?: string; data: string }>) {
        if (message.id) last = message.id
        if (message.event === 'reset') throw new Error('the journal lost the changes')
        if (message.event === 'job' && JSON.parse(message.data).state === 'succeeded')
          ended.add(JSON.parse(message.data).id)
        if (message.event === 'ready') {
          ready = true
          break
        }
      }
      expect(connections).toBeLessThan(20)
    }
    expect(connections).toBeGreaterThan(1)
    expect(ended).toEqual(made)
  })
})
