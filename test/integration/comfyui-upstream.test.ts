import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type ComfyUiEngineOptions, createComfyUiEngine } from '../../src/engines/comfyui/comfyui-engine.js'
import { resolveWorkflows } from '../../src/engines/comfyui/workflows.js'
import type { EngineTask } from '../../src/engines/engine.js'
import { EngineError } from '../../src/engines/engine-error.js'
import { startBflEmulator } from '../emulators/bfl.js'
import { type ComfyScript, startComfyEmulator } from '../emulators/comfyui.js'
import { REPO } from '../helpers/child.js'
import { api, startTestServer } from '../helpers/server.js'

const TSX = path.join(REPO, 'node_modules/tsx/dist/loader.mjs')

type Graph = Record<string, { class_type: string; inputs: Record<string, any> }>
const textOf = (graph: Graph) =>
  String(Object.values(graph).find((n) => n.class_type === 'CLIPTextEncode')?.inputs.text)

/** The test decides each prompt's fate from its text. */
function script(graph: Graph): ComfyScript {
  const text = textOf(graph)
  if (text.startsWith('four')) return { steps: 4, stepMs: 60 }
  if (text.startsWith('seven')) return { steps: 7, stepMs: 10 }
  if (text.startsWith('drop')) return { steps: 8, stepMs: 10, dropSocketsAfterStep: 2, awaitReconnect: true }
  if (text.startsWith('lost')) return { loseAnswer: true, steps: 10_000, stepMs: 20 }
  if (text.startsWith('slow')) return { steps: 10_000, stepMs: 20 }
  return {}
}

/** A fresh emulator and an engine on it, both closed when the test ends. */
async function setup(options: Partial<ComfyUiEngineOptions> = {}) {
  const comfy = await startComfyEmulator({ script, stepMs: 2 })
  const engine = createComfyUiEngine({
    url: comfy.url,
    workflows: resolveWorkflows('schnell', null),
    maxQueued: 2,
    pollMs: 50,
    ...options,
  })
  onTestFinished(async () => {
    await engine.close()
    await comfy.close()
  })
  return { comfy, engine }
}

const task = (prompt: string): EngineTask => ({
  jobId: randomUUID(),
  model: 'flux-pro-1.1',
  prompt,
  width: 256,
  height: 256,
  seed: 1,
  numImages: 1,
  promptUpsampling: false,
  raw: false,
  safetyTolerance: 2,
  output: { format: 'png', quality: 90 },
})
/** A task's context, keeping the progress it reports. */
const context = (signal = new AbortController().signal) => {
  const seen: number[] = []
  return { signal, seen, progress: (fraction: number) => void seen.push(fraction) }
}
/** The sampler fractions (value / max) behind the progress a task reported. */
const sampled = (seen: number[]) => seen.filter((p) => p > 0.05 && p < 1).map((p) => (p - 0.05) / 0.9)
const isStepOf = (steps: number) => (fraction: number) =>
  Math.abs(fraction * steps - Math.round(fraction * steps)) < 1e-9

describe('one websocket per ComfyUI', () => {
  it('many jobs share one socket and client id; each prompt carries its own marker', async () => {
    const { comfy, engine } = await setup()
    await Promise.all(Array.from({ length: 6 }, (_, i) => engine.generate(task(`together ${i}`), context())))
    await engine.generate(task('one after'), context())
    expect(comfy.connections()).toBe(1)
    expect(new Set(comfy.received.map((r) => r.clientId)).size).toBe(1)
    const markers = comfy.received.map((r) => (r.extraData as { fluxhost_task: string }).fluxhost_task)
    expect(new Set(markers).size).toBe(7)
  })

  it('a job the socket followed throughout costs three requests: prompt, image, history delete', async () => {
    // Polling slow enough that only the socket's events can end the job in time.
    const { comfy, engine } = await setup({ pollMs: 60_000 })
    await engine.generate(task('warm up the socket'), context())
    await comfy.until(() => comfy.history.size === 0)
    comfy.requests.splice(0)
    const output = await engine.generate(task('three requests'), context())
    expect(output.images).toHaveLength(1)
    await comfy.until(() => comfy.history.size === 0)
    expect(comfy.requests).toEqual(['POST /prompt', 'GET /view', 'POST /history'])
  })

  it("routes each event by prompt_id: two queued prompts' progress reaches only their own tasks", async () => {
    const { comfy, engine } = await setup()
    const four = context()
    const seven = context()
    await Promise.all([engine.generate(task('four steps'), four), engine.generate(task('seven steps'), seven)])
    expect(comfy.maxInQueue()).toBe(2) // both were in ComfyUI at once, on the one socket
    expect(sampled(four.seen).some((f) => f < 1)).toBe(true)
    expect(sampled(four.seen).every(isStepOf(4))).toBe(true)
    expect(sampled(seven.seen).some((f) => f < 1)).toBe(true)
    expect(sampled(seven.seen).every(isStepOf(7))).toBe(true)
  })

  it('a socket dropped mid-job reconnects, the rest of the events come over it, and the job finishes', async () => {
    // Polling slow enough that only the socket's events can end the job in time.
    const { comfy, engine } = await setup({ pollMs: 60_000 })
    const ctx = context()
    const output = await engine.generate(task('drop the socket at step two'), ctx)
    expect(output.images).toHaveLength(1)
    expect(comfy.drops()).toBe(1)
    expect(comfy.connections()).toBe(2)
    // Events sent while it was down are lost: the end was read from /history.
    expect(comfy.requests).toContain(`GET /history/${comfy.prompts[0]!.id}`)
    // The emulator held the sampler until the socket was back: these steps came over the new one.
    expect(sampled(ctx.seen).some((f) => f > 2 / 8 && f < 1)).toBe(true)
  })

  it('closes after a quiet while and opens again on use; close() closes it for good', async () => {
    const { comfy, engine } = await setup({ socketIdleMs: 20 })
    await engine.generate(task('first'), context())
    await comfy.until(() => comfy.openSockets() === 0)
    await engine.generate(task('second'), context())
    expect(comfy.connections()).toBe(2)
    const kept = await setup()
    await kept.engine.generate(task('kept open'), context())
    expect(kept.comfy.openSockets()).toBe(1)
    await kept.engine.close()
    await kept.comfy.until(() => kept.comfy.openSockets() === 0)
  })

  it('does not keep the process alive: a process that made an image exits without close()', async () => {
    const comfy = await startComfyEmulator({ stepMs: 2 })
    onTestFinished(() => comfy.close())
    const source = (file: string) => JSON.stringify(path.join(REPO, 'src/engines/comfyui', file))
    const code = `
      const { createComfyUiEngine } = await import(${source('comfyui-engine.ts')})
      const { resolveWorkflows } = await import(${source('workflows.ts')})
      const workflows = resolveWorkflows('schnell', null)
      const engine = createComfyUiEngine({ url: process.env.COMFY, workflows, maxQueued: 1 })
      const ctx = { signal: AbortSignal.timeout(30_000), progress() {} }
      const made = await engine.generate(${JSON.stringify(task('exit after'))}, ctx)
      console.log('made', made.images.length)`
    const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', code], {
      env: { PATH: process.env.PATH ?? '', COMFY: comfy.url },
    })
    onTestFinished(() => void child.kill())
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()))
    // With the socket keeping it alive, it would wait for the idle close (60 s), past the test's timeout.
    const exit = await new Promise((resolve) => child.on('exit', (status) => resolve(status)))
    expect(out.trim()).toBe('made 1')
    expect(exit).toBe(0)
    expect(comfy.connections()).toBe(1)
  })
})

describe('cancel by marker, and what is deleted', () => {
  it('a /prompt whose answer was lost is found by its marker and removed, running or waiting', async () => {
    const { comfy, engine } = await setup()
    expect(engine.duplicateHarmless).toBe(true)
    const running = await engine.generate(task('lost while running'), context()).catch((e: unknown) => e)
    expect(running).toBeInstanceOf(EngineError)
    expect(running).toMatchObject({ kind: 'unavailable', submitLost: true })
    expect((running as Error).message).toMatch(/^ComfyUI did not answer \/prompt \(.+\); the prompt it may have/)
    const first = comfy.prompts[0]!
    expect(comfy.interrupts).toEqual([first.id])
    await comfy.until(() => comfy.inQueue() === 0)

    // Waiting behind one of ours that runs: deleted from the queue; the running one is not touched.
    const abort = new AbortController()
    const slow = engine.generate(task('slow, keeps running'), context(abort.signal)).catch((e: unknown) => e)
    await comfy.until(() => comfy.running() !== undefined)
    const waiting = await engine.generate(task('lost while waiting'), context()).catch((e: unknown) => e)
    expect(waiting).toMatchObject({ kind: 'unavailable', submitLost: true })
    expect(comfy.deletes).toEqual([comfy.prompts[2]!.id])
    expect(comfy.interrupts).toEqual([first.id])
    abort.abort()
    expect(await slow).toMatchObject({ kind: 'canceled' })
    expect(comfy.interrupts).toEqual([first.id, comfy.prompts[1]!.id])
    await comfy.until(() => comfy.inQueue() === 0)
  })

  it('history entries are deleted after download, those of interrupted prompts with the next', async () => {
    const { comfy, engine } = await setup()
    const abort = new AbortController()
    const slow = engine.generate(task('slow, canceled'), context(abort.signal)).catch((e: unknown) => e)
    await comfy.until(() => comfy.running() !== undefined)
    abort.abort()
    await slow
    const interrupted = comfy.prompts[0]!.id
    await comfy.until(() => comfy.history.has(interrupted))
    await engine.generate(task('a plain one'), context())
    await comfy.until(() => comfy.history.size === 0)
    expect(comfy.historyDeletes.sort()).toEqual(comfy.prompts.map((p) => p.id).sort())
  })

  it("built-in workflows write only to ComfyUI's temp folder, which ComfyUI empties at start", async () => {
    const { comfy, engine } = await setup()
    const made = await engine.generate({ ...task('three of them'), numImages: 3 }, context())
    expect(made.images).toHaveLength(3)
    expect(comfy.filesIn('output')).toEqual([])
    expect(comfy.filesIn('temp')).toHaveLength(3)
  })
})

describe('failover to ComfyUI', () => {
  it('a BFL that answers 402 hands the job to a ComfyUI that works; both attempts are on the job', async () => {
    const comfy = await startComfyEmulator({ stepMs: 2 })
    const bfl = await startBflEmulator({ apiKey: 'k', script: () => ({ submitStatus: 402 }) })
    const routed = await startTestServer({
      FLUXHOST_BFL_API_KEY: 'k',
      FLUXHOST_BFL_URL: bfl.url,
      FLUXHOST_COMFYUI_URL: comfy.url,
    })
    try {
      // With both configured and no FLUXHOST_ROUTES: bfl first, then comfyui.
      expect(routed.fluxhost.routes['flux-pro-1.1']).toEqual(['bfl', 'comfyui'])
      const created = await api(`${routed.url}/v1/flux-pro-1.1`, { body: { prompt: 'a poor account' } })
      expect(await routed.waitForJob(created.body.id)).toMatchObject({ state: 'succeeded', engine: 'comfyui' })
      expect((await api(`${routed.url}/api/jobs/${created.body.id}`)).body.result.engineAttempts).toEqual([
        {
          engine: 'bfl',
          error: { kind: 'insufficient_credits', message: 'the BFL account has no credits left (402)' },
        },
        { engine: 'comfyui' },
      ])
    } finally {
      await routed.close()
      await bfl.close()
      await comfy.close()
    }
  })

  it('a ComfyUI that is down fails over to the next engine', async () => {
    const down = await startComfyEmulator()
    const url = down.url
    await down.close()
    const routed = await startTestServer({ FLUXHOST_COMFYUI_URL: url, FLUXHOST_ROUTES: 'flux-pro-1.1=comfyui,preview' })
    try {
      const created = await api(`${routed.url}/v1/flux-pro-1.1`, { body: { prompt: 'anyone there' } })
      const job = await routed.waitForJob(created.body.id)
      expect(job).toMatchObject({ state: 'succeeded', engine: 'preview' })
      const attempts = (await api(`${routed.url}/api/jobs/${job.id}`)).body.result.engineAttempts
      expect(attempts[0]).toMatchObject({ engine: 'comfyui', error: { kind: 'unavailable' } })
      expect(attempts[0].error.message).toMatch(
        /ComfyUI could not be reached at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
      )
    } finally {
      await routed.close()
    }
  })
})
