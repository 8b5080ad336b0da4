import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ComfyScript, startComfyEmulator } from '../emulators/comfyui.js'
import { api, startTestServer, type TestServer, tempDir } from '../helpers/server.js'

let comfy: Awaited<ReturnType<typeof startComfyEmulator>>
let server: TestServer

/** The test decides each prompt's fate from its text. */
function script(graph: Record<string, { class_type: string; inputs: Record<string, any> }>): ComfyScript {
  const text = String(Object.values(graph).find((n) => n.class_type === 'CLIPTextEncode')?.inputs.text)
  if (text.startsWith('out of memory')) return { error: 'CUDA out of memory. Tried to allocate 2.00 GiB' }
  if (text.startsWith('slow')) return { steps: 10_000, stepMs: 20 }
  return {}
}

beforeAll(async () => {
  comfy = await startComfyEmulator({ script, stepMs: 2 })
  server = await startTestServer({
    FLUXHOST_COMFYUI_URL: comfy.url,
    FLUXHOST_COMFYUI_MAX_QUEUED: '2',
    FLUXHOST_WORKER_CONCURRENCY: '4',
    FLUXHOST_COMFYUI_POLL_MS: '50',
    FLUXHOST_MAX_ATTEMPTS: '1',
  })
})
afterAll(async () => {
  await server?.close()
  await comfy?.close()
})

const submit = (body: Record<string, unknown>, url = server.url) =>
  api(`${url}/v1/flux-pro-1.1`, { body: { width: 512, height: 256, ...body } })
const lastGraph = () => comfy.received.at(-1)!.graph
const image = async (url: string, id: string, index = 0) => {
  const result = (await api(`${url}/api/jobs/${id}`)).body.result
  const response = await fetch(result.images[index].url)
  return sharp(Buffer.from(await response.arrayBuffer())).metadata()
}

describe('the comfyui engine against an emulated ComfyUI', () => {
  it('fills the schnell workflow, queues it with a client id and a marker, follows /ws, reads the image', async () => {
    const progress: number[] = []
    const created = await submit({ prompt: 'a red fox in snow', seed: 77, output_format: 'png' })
    const unsubscribe = server.fluxhost.services.jobs.subscribe(created.body.id, (event) => {
      if (event.type === 'progress') progress.push(event.progress)
    })
    const job = await server.waitForJob(created.body.id)
    unsubscribe()
    expect(job).toMatchObject({ state: 'succeeded', engine: 'comfyui' })
    const graph = lastGraph()
    expect(graph['4']!.inputs.text).toBe('a red fox in snow')
    expect(graph['6']!.inputs).toEqual({ width: 512, height: 256, batch_size: 1 })
    expect(graph['7']!.inputs).toMatchObject({ seed: 77, steps: 4, cfg: 1, denoise: 1 })
    expect(graph['1']!.inputs.unet_name).toBe('flux1-schnell.safetensors')
    // Into ComfyUI's temp folder: nothing of the job stays in its output folder.
    expect(graph['9']).toEqual({ class_type: 'PreviewImage', inputs: { images: ['8', 0] } })
    // The prompt went to ComfyUI with the websocket's client id, the task's marker, and no Origin header.
    const sent = comfy.received.at(-1)!
    expect(sent.clientId).toMatch(/^fluxhost-/)
    expect(sent.extraData).toEqual({ fluxhost_task: expect.stringMatching(/^[0-9a-f-]{36}$/), fluxhost_job: job.id })
    expect(sent.headers.origin).toBeUndefined()
    expect(comfy.originRefusals).toEqual([])
    // Sampler progress came over the websocket (the sampler's share is 0.05–0.95).
    expect(progress.some((p) => p > 0.05 && p < 1)).toBe(true)
    expect(progress.at(-1)).toBe(1)
    expect(await image(server.url, created.body.id)).toMatchObject({ width: 512, height: 256, format: 'png' })
  })

  it('several images are one prompt with batch_size', async () => {
    const created = await api(`${server.url}/api/jobs`, {
      body: { prompt: 'four lanterns', numImages: 3, width: 256, height: 256, seed: 5 },
    })
    expect(await server.waitForJob(created.body.id)).toMatchObject({ state: 'succeeded' })
    expect(lastGraph()['6']!.inputs.batch_size).toBe(3)
    expect((await api(`${server.url}/api/jobs/${created.body.id}`)).body.result.images).toHaveLength(3)
  })

  it('an image prompt is uploaded and sampled from, with denoise = 1 − strength', async () => {
    const guide = await sharp({
      create: { width: 300, height: 200, channels: 3, background: { r: 200, g: 10, b: 10 } },
    })
      .png()
      .toBuffer()
    const created = await api(`${server.url}/api/jobs`, {
      body: {
        prompt: 'a red barn',
        width: 256,
        height: 256,
        imagePrompt: { data: guide.toString('base64'), strength: 0.7 },
      },
    })
    expect(await server.waitForJob(created.body.id)).toMatchObject({ state: 'succeeded' })
    const graph = lastGraph()
    // Uploaded into ComfyUI's temp folder (emptied at its every start), read by the annotated name.
    const name = `fluxhost-${created.body.id}.png`
    expect(graph['11']).toEqual({ class_type: 'LoadImage', inputs: { image: `${name} [temp]` } })
    expect(graph['7']!.inputs.denoise).toBe(0.3)
    expect(graph['12']!.inputs).toMatchObject({ width: 256, height: 256 })
    expect((await sharp(comfy.files.get(`temp/${name}`)!).metadata()).width).toBe(300)
    expect(comfy.filesIn('input')).toEqual([])
  })

  it("an execution_error fails the job with ComfyUI's message and node", async () => {
    const job = await server.waitForJob((await submit({ prompt: 'out of memory please' })).body.id)
    expect(job.state).toBe('failed')
    expect(job.error).toEqual({
      code: 'GENERATION_FAILED',
      message: 'ComfyUI failed in node 7 (KSampler): RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB',
    })
  })

  it('cancel while running interrupts that prompt; cancel while queued in ComfyUI deletes it', async () => {
    const running = await submit({ prompt: 'slow, interrupt me' })
    await comfy.until(
      () => comfy.running() !== undefined && comfy.received.at(-1)!.graph['4']!.inputs.text === 'slow, interrupt me',
    )
    const runningId = comfy.running()!
    const waiting = await submit({ prompt: 'slow, delete me' })
    await comfy.until(() => comfy.inQueue() === 2)

    const canceledWaiting = await api(`${server.url}/api/jobs/${waiting.body.id}/cancel`, { method: 'POST' })
    expect(canceledWaiting.body.state).toBe('canceled')
    await comfy.until(() => comfy.deletes.length > 0 && comfy.inQueue() === 1)
    expect(comfy.interrupts).toEqual([]) // the running prompt was not touched

    const canceledRunning = await api(`${server.url}/api/jobs/${running.body.id}/cancel`, { method: 'POST' })
    expect(canceledRunning.body.state).toBe('canceled')
    await comfy.until(() => comfy.interrupts.length > 0 && comfy.inQueue() === 0)
    expect(comfy.interrupts).toEqual([runningId])
    await comfy.until(() => comfy.history.get(runningId)?.status.status_str === 'error')
    expect((await server.waitForJob(running.body.id)).state).toBe('canceled')
  })

  it("a prompt that vanishes from ComfyUI's queue (cleared there) ends the job instead of waiting for it", async () => {
    const running = await submit({ prompt: 'slow, keep running' })
    await comfy.until(() => comfy.running() !== undefined)
    const waiting = await submit({ prompt: 'slow, about to be cleared' })
    await comfy.until(() => comfy.inQueue() === 2)
    // Someone clears ComfyUI's queue from its own UI: no websocket event says so.
    expect((await fetch(`${comfy.url}/queue`, { method: 'POST', body: JSON.stringify({ clear: true }) })).status).toBe(
      200,
    )
    const job = await server.waitForJob(waiting.body.id)
    expect(job.state).toBe('failed')
    expect(job.error).toEqual({
      code: 'ENGINE_UNAVAILABLE',
      message:
        'ComfyUI lost the prompt: it is neither queued, running nor in its history ' +
        '(its queue was cleared, or it restarted)',
    })
    await api(`${server.url}/api/jobs/${running.body.id}/cancel`, { method: 'POST' })
    await comfy.until(() => comfy.inQueue() === 0)
  })

  it("flux-dev's steps and guidance fill the workflow; absent, the workflow's own defaults apply", async () => {
    const dev = await api(`${server.url}/v1/flux-dev`, {
      body: { prompt: 'dev on schnell', width: 256, height: 256, steps: 8, guidance: 4 },
    })
    expect(await server.waitForJob(dev.body.id)).toMatchObject({ state: 'succeeded', engine: 'comfyui' })
    expect(lastGraph()['7']!.inputs.steps).toBe(8)
    const plain = await api(`${server.url}/v1/flux-dev`, {
      body: { prompt: 'dev, default steps', width: 256, height: 256 },
    })
    expect(await server.waitForJob(plain.body.id)).toMatchObject({ state: 'succeeded' })
    expect(lastGraph()['7']!.inputs.steps).toBe(4) // the schnell workflow's, not dev's 28
  })

  it('/api/models shows comfyui, reachable, with its version, device and workflow', async () => {
    const models = await api(`${server.url}/api/models`, { key: null })
    expect(models.body.data.find((m: any) => m.id === 'flux-pro-1.1')).toMatchObject({
      engines: ['comfyui'],
      engineStatus: [
        { name: 'comfyui', reachable: true, detail: 'ComfyUI 0.3.60 on cuda:0 Emulated GPU, workflow schnell' },
      ],
    })
  })

  it('never keeps more than FLUXHOST_COMFYUI_MAX_QUEUED prompts in ComfyUI under 100 submitted jobs', async () => {
    const capped = await startComfyEmulator({ stepMs: 1 })
    const busy = await startTestServer({
      FLUXHOST_COMFYUI_URL: capped.url,
      FLUXHOST_COMFYUI_MAX_QUEUED: '3',
      FLUXHOST_WORKER_CONCURRENCY: '16',
    })
    try {
      const created = await Promise.all(
        Array.from({ length: 100 }, (_, i) => submit({ prompt: `capped ${i}`, width: 256, height: 256 }, busy.url)),
      )
      const jobs = await Promise.all(created.map((c) => busy.waitForJob(c.body.id)))
      expect(jobs.filter((j) => j.state === 'succeeded')).toHaveLength(100)
      expect(capped.received).toHaveLength(100)
      expect(capped.maxInQueue()).toBeLessThanOrEqual(3)
      expect(capped.maxInQueue()).toBeGreaterThan(1) // prompts did overlap: the cap was exercised
      // One websocket for all of them; no history entry and no file left in ComfyUI's output folder.
      expect(capped.connections()).toBe(1)
      await capped.until(() => capped.history.size === 0)
      expect(capped.filesIn('output')).toEqual([])
    } finally {
      await busy.close()
      await capped.close()
    }
  }, 60_000)
})

describe('workflows', () => {
  it(
    'the dev workflow adds FluxGuidance and 28 steps; ' + 'a missing model file is a clear error from node_errors',
    async () => {
      const schnellOnly = await startComfyEmulator({ models: ['flux1-schnell.safetensors'] })
      // One attempt: the job would otherwise be retried later (the engine is unavailable, not the request bad).
      const dev = await startTestServer({
        FLUXHOST_COMFYUI_URL: schnellOnly.url,
        FLUXHOST_COMFYUI_WORKFLOW: 'dev',
        FLUXHOST_MAX_ATTEMPTS: '1',
      })
      try {
        const job = await dev.waitForJob((await submit({ prompt: 'a violin' }, dev.url)).body.id)
        expect(job.state).toBe('failed')
        expect(job.error?.code).toBe('ENGINE_UNAVAILABLE')
        expect(job.error?.message).toBe(
          "ComfyUI rejected the workflow 'dev': Prompt outputs failed validation; " +
            "node 1 (UNETLoader): Value not in list: unet_name: 'flux1-dev.safetensors' " +
            'not in ["flux1-schnell.safetensors"]',
        )
        const graph = schnellOnly.received[0]!.graph
        expect(graph['10']).toEqual({ class_type: 'FluxGuidance', inputs: { conditioning: ['4', 0], guidance: 3.5 } })
        expect(graph['7']!.inputs).toMatchObject({ positive: ['10', 0], steps: 28 })
      } finally {
        await dev.close()
        await schnellOnly.close()
      }
    },
  )

  it('a user template gets its placeholders filled, as values or inside text', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'mine.json')
    const mine = JSON.parse(
      JSON.stringify((await import('../../src/engines/comfyui/workflows.js')).BUILT_IN_WORKFLOWS.schnell.txt2img),
    )
    mine['4'].inputs.text = '{{prompt}}, in the style of an etching'
    mine['7'].inputs.steps = 6
    mine['9'] = { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'mine/{{filename_prefix}}' } }
    fs.writeFileSync(file, JSON.stringify(mine))
    const custom = await startTestServer({ FLUXHOST_COMFYUI_URL: comfy.url, FLUXHOST_COMFYUI_WORKFLOW: file })
    try {
      const created = await submit({ prompt: 'a harbour', seed: 3 }, custom.url)
      expect(await custom.waitForJob(created.body.id)).toMatchObject({ state: 'succeeded', engine: 'comfyui' })
      expect(lastGraph()['4']!.inputs.text).toBe('a harbour, in the style of an etching')
      expect(lastGraph()['7']!.inputs).toMatchObject({ seed: 3, steps: 6 })
      // SaveImage's file is the result, and stays in ComfyUI's output folder: no endpoint deletes it.
      const saved = `output/mine/fluxhost/${created.body.id}_`
      expect(comfy.filesIn('output').filter((key) => key.startsWith(saved))).toHaveLength(1)
      // It has no image-prompt workflow: a request with one is refused clearly.
      const guide = (
        await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } })
          .png()
          .toBuffer()
      ).toString('base64')
      const refused = await custom.waitForJob(
        (
          await api(`${custom.url}/api/jobs`, {
            body: { prompt: 'x', width: 256, height: 256, imagePrompt: { data: guide } },
          })
        ).body.id,
      )
      expect(refused.error).toEqual({
        code: 'VALIDATION_FAILED',
        message: `ComfyUI's workflow '${file}' takes no image prompt (set FLUXHOST_COMFYUI_IMG2IMG_WORKFLOW)`,
      })
    } finally {
      await custom.close()
    }
  })

  it('refuses templates it cannot use at start, naming the problem', async () => {
    const dir = tempDir()
    const bad = path.join(dir, 'bad.json')
    fs.writeFileSync(
      bad,
      JSON.stringify({ '1': { class_type: 'CLIPTextEncode', inputs: { text: '{{prompt}} {{negative}}' } } }),
    )
    await expect(startTestServer({ FLUXHOST_COMFYUI_URL: comfy.url, FLUXHOST_COMFYUI_WORKFLOW: bad })).rejects.toThrow(
      /FLUXHOST_COMFYUI_WORKFLOW .*bad\.json: unknown placeholder \{\{negative\}\}/,
    )
    const ui = path.join(dir, 'ui.json')
    fs.writeFileSync(ui, JSON.stringify({ nodes: [], links: [] }))
    await expect(startTestServer({ FLUXHOST_COMFYUI_URL: comfy.url, FLUXHOST_COMFYUI_WORKFLOW: ui })).rejects.toThrow(
      /UI format; export it with "Save \(API\)"/,
    )
    await expect(
      startTestServer({ FLUXHOST_COMFYUI_URL: comfy.url, FLUXHOST_COMFYUI_WORKFLOW: path.join(dir, 'none.json') }),
    ).rejects.toThrow(/none\.json: no such file/)
  })
})
