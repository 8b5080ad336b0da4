import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, startTestServer, type TestServer } from '../helpers/server.js'

/**
 * An OpenAI-compatible chat-completions endpoint (POST /v1/chat/completions), as OpenAI
 * documents it: it answers with `choices[0].message.content`. `reply` decides the answer.
 */
async function startChatEmulator(reply: (prompt: string) => { status: number; content?: string }) {
  const seen: { headers: http.IncomingHttpHeaders; body: any }[] = []
  const server = http.createServer((req, res) => {
    let raw = ''
    req.on('data', (chunk) => (raw += chunk))
    req.on('end', () => {
      const body = JSON.parse(raw)
      seen.push({ headers: req.headers, body })
      if (req.url !== '/v1/chat/completions') return res.writeHead(404).end()
      const user = body.messages.find((m: any) => m.role === 'user').content as string
      const { status, content } = reply(user)
      if (status !== 200)
        return res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":{"message":"overloaded"}}')
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        }),
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    seen,
    close: () => new Promise((r) => server.close(r)),
  }
}

const resultOf = async (s: TestServer, id: string) => {
  await s.waitForJob(id)
  return (await api(`${s.url}/v1/get_result?id=${id}`)).body
}

describe('prompt upsampling', () => {
  let plain: TestServer
  let withUpsampler: TestServer
  let emulator: Awaited<ReturnType<typeof startChatEmulator>>
  beforeAll(async () => {
    emulator = await startChatEmulator((prompt) =>
      prompt.includes('fail')
        ? { status: 503 }
        : prompt.includes('statue')
          ? { status: 200, content: 'a nude marble statue, museum light' }
          : { status: 200, content: `"${prompt}, golden hour, 35mm film, rich teal and orange palette"` },
    )
    plain = await startTestServer()
    withUpsampler = await startTestServer({
      FLUXHOST_UPSAMPLER_URL: emulator.url,
      FLUXHOST_UPSAMPLER_MODEL: 'llama3.1',
      FLUXHOST_UPSAMPLER_KEY: 'sk-up',
    })
  })
  afterAll(async () => {
    await Promise.all([plain.close(), withUpsampler.close()])
    await emulator.close()
  })

  it('without an upsampler the result says it was not applied, and the prompt is used as given', async () => {
    const created = await api(`${plain.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'a lighthouse', width: 256, height: 256, prompt_upsampling: true },
    })
    const result = await resultOf(plain, created.body.id)
    expect(result.result.prompt).toBe('a lighthouse')
    expect(result.result.prompt_upsampling).toEqual({
      applied: false,
      reason: expect.stringMatching(/no upsampler is configured \(FLUXHOST_UPSAMPLER_URL\)/),
    })
    const asked = await api(`${plain.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'a lighthouse', width: 256, height: 256 },
    })
    expect((await resultOf(plain, asked.body.id)).result.prompt_upsampling).toBeUndefined()
  })

  it('with one, the prompt is rewritten through chat completions and the final prompt is in the result', async () => {
    const created = await api(`${withUpsampler.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'a lighthouse', width: 256, height: 256, prompt_upsampling: true },
    })
    const result = await resultOf(withUpsampler, created.body.id)
    expect(result.result.prompt).toBe('a lighthouse, golden hour, 35mm film, rich teal and orange palette')
    expect(result.result.prompt_upsampling).toEqual({ applied: true, by: 'upsampler' })
    const request = emulator.seen.at(-1)!
    expect(request.headers.authorization).toBe('Bearer sk-up')
    expect(request.body).toMatchObject({
      model: 'llama3.1',
      messages: [{ role: 'system' }, { role: 'user', content: 'a lighthouse' }],
    })

    // Apiframe's raw turns enhancement off: nothing is asked of the upsampler.
    const calls = emulator.seen.length
    const raw = await api(`${withUpsampler.url}/v2/images/generate`, {
      body: {
        prompt: 'a lighthouse',
        model: 'flux-1.1-pro',
        fluxParams: { prompt_upsampling: true, raw: true, aspect_ratio: 'custom', width: 256, height: 256 },
      },
    })
    await withUpsampler.waitForJob(raw.body.jobId)
    expect(emulator.seen.length).toBe(calls)
    const upsampled = await api(`${withUpsampler.url}/v2/images/generate`, {
      body: {
        prompt: 'a lighthouse',
        model: 'flux-1.1-pro',
        fluxParams: { prompt_upsampling: true, aspect_ratio: 'custom', width: 256, height: 256 },
      },
    })
    await withUpsampler.waitForJob(upsampled.body.jobId)
    const job = (await api(`${withUpsampler.url}/v2/jobs/${upsampled.body.jobId}`)).body
    expect(job.result).toMatchObject({
      prompt: expect.stringContaining('golden hour'),
      promptUpsampling: { applied: true, by: 'upsampler' },
    })
  })

  it('an upsampler that fails leaves the prompt as given and says why; the job still succeeds', async () => {
    const created = await api(`${withUpsampler.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'please fail', width: 256, height: 256, prompt_upsampling: true },
    })
    const result = await resultOf(withUpsampler, created.body.id)
    expect(result.status).toBe('Ready')
    expect(result.result.prompt).toBe('please fail')
    expect(result.result.prompt_upsampling).toEqual({ applied: false, reason: 'the upsampler answered HTTP 503' })
    // Neither the upsampler's address nor its answer reaches the client.
    expect(JSON.stringify(result)).not.toContain('overloaded')
    expect(JSON.stringify(result)).not.toContain(new URL(emulator.url).host)
  })

  it('the upsampled prompt goes through the blocklist too', async () => {
    const created = await api(`${withUpsampler.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'a statue', width: 256, height: 256, prompt_upsampling: true, safety_tolerance: 2 },
    })
    const result = await resultOf(withUpsampler, created.body.id)
    expect(result.status).toBe('Request Moderated')
    expect(result.details.message).toMatch(/the upsampled prompt contains 'nude'/)
  })
})
