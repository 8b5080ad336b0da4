import { EventSourceParserStream } from 'eventsource-parser/stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, KEY_A, KEY_B, startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server.close()
})

/** A finished job of `key`, as its create answered (the id the client holds). */
async function finishedJob(key = KEY_A, prompt = 'a favourite lighthouse'): Promise<string> {
  const created = await api(`${server.url}/api/jobs`, { body: { prompt, width: 256, height: 256 }, key })
  expect(created.status).toBe(202)
  await server.waitForJob(created.body.id)
  return created.body.id
}

const mark = (id: string, body: unknown, key = KEY_A) =>
  api(`${server.url}/api/jobs/${id}`, { method: 'PATCH', body, key })

const listIds = async (query: string, key = KEY_A): Promise<string[]> => {
  const listed = await api(`${server.url}/api/jobs?${query}`, { key })
  expect(listed.status).toBe(200)
  return listed.body.data.map((job: { id: string }) => job.id)
}

describe('PATCH /api/jobs/:id: favourites', () => {
  it('marks and unmarks a job; reads and the favourite filter of the list follow', async () => {
    const liked = await finishedJob()
    const other = await finishedJob()
    expect((await api(`${server.url}/api/jobs/${liked}`)).body.favourite).toBe(false)

    const marked = await mark(liked, { favourite: true })
    expect(marked.status).toBe(200)
    expect(marked.body).toMatchObject({ id: liked, favourite: true, state: 'succeeded' })
    // The finished job's cached copy must not hide the change.
    expect((await api(`${server.url}/api/jobs/${liked}`)).body.favourite).toBe(true)
    expect(await listIds('favourite=true&limit=100')).toEqual([liked])
    const others = await listIds('favourite=false&limit=100')
    expect(others).toContain(other)
    expect(others).not.toContain(liked)

    // Saying it again changes nothing; unmarking takes it out of the favourites.
    expect((await mark(liked, { favourite: true })).body.favourite).toBe(true)
    expect((await mark(liked, { favourite: false })).body.favourite).toBe(false)
    expect(await listIds('favourite=true&limit=100')).toEqual([])
  })

  it("answers another key's job, a deleted one and an unknown id as unknown (404), changing nothing", async () => {
    const job = await finishedJob()
    const foreign = await mark(job, { favourite: true }, KEY_B)
    expect(foreign.status).toBe(404)
    expect(foreign.body.error.code).toBe('JOB_NOT_FOUND')
    expect((await api(`${server.url}/api/jobs/${job}`)).body.favourite).toBe(false)

    expect((await api(`${server.url}/api/jobs/${job}`, { method: 'DELETE' })).status).toBe(204)
    expect((await mark(job, { favourite: true })).status).toBe(404)
    expect((await mark('no-such-job', { favourite: true })).status).toBe(404)
  })

  it('refuses a body that is not one boolean `favourite`, naming the field (422)', async () => {
    const job = await finishedJob()
    for (const body of [{ favourite: 'yes' }, {}, { favourite: true, prompt: 'changed' }]) {
      const refused = await mark(job, body)
      expect(refused.status, JSON.stringify(body)).toBe(422)
      expect(JSON.stringify(refused.body.error), JSON.stringify(body)).toMatch(/favourite|prompt/)
    }
    const read = (await api(`${server.url}/api/jobs/${job}`)).body
    expect(read.favourite).toBe(false)
    expect(read.request.prompt).toBe('a favourite lighthouse')
  })

  it("tells the key's event stream, so its other pages update", async () => {
    const job = await finishedJob()
    const abort = new AbortController()
    const response = await fetch(`${server.url}/api/events`, { headers: { 'x-key': KEY_A }, signal: abort.signal })
    const messages = response
      .body!.pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream())
      [Symbol.asyncIterator]()
    const next = async () => {
      const { value, done } = await messages.next()
      if (done) throw new Error('the stream ended')
      return { event: value.event ?? 'message', data: JSON.parse(value.data) }
    }
    expect((await next()).event).toBe('ready')
    expect((await mark(job, { favourite: true })).status).toBe(200)
    let message = await next()
    while (message.event !== 'job') message = await next()
    expect(message.data).toMatchObject({ id: job, favourite: true })
    abort.abort()
  })
})
