import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { api, KEY_A, startTestServer } from '../helpers/server.js'

describe('shutdown', () => {
  it('is not held open by a client that stalls mid-request', async () => {
    const server = await startTestServer()
    const { port } = new URL(server.url)
    const requestSeen = new Promise((resolve) => server.fluxhost.app!.server.once('request', resolve))
    const socket = net.connect(Number(port), '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    // Headers promise a body that never comes: the request stays in flight.
    socket.write(
      `POST /v1/flux-pro-1.1 HTTP/1.1\r\nhost: x\r\nx-key: ${KEY_A}\r\n` +
        `content-type: application/json\r\ncontent-length: 100\r\n\r\n{"prompt":`,
    )
    const closedByServer = new Promise((resolve) => socket.once('close', resolve))
    await requestSeen
    await server.close()
    await closedByServer
    expect(socket.destroyed).toBe(true)
  })
})

describe('shutdown with every worker slot busy', () => {
  it('aborts the running jobs after the grace period and puts them back in the queue', async () => {
    const server = await startTestServer({ FLUXHOST_WORKER_CONCURRENCY: '1' })
    const created = await api(`${server.url}/api/jobs`, {
      body: { prompt: 'long', width: 256, height: 256 },
      headers: { 'x-fluxhost-simulate': 'slow=60000' },
    })
    await server.waitUntilRunning(created.body.id)
    // With the only slot busy, stop() used to wait for the job instead of aborting it.
    await server.fluxhost.close(0)
    const reopened = await server.openRecords()
    try {
      expect(await reopened.jobs.get(created.body.id)).toMatchObject({ state: 'queued', attempts: 0 })
    } finally {
      await reopened.close()
      await server.close() // removes the data dir (and the test's schema)
    }
  })
})
