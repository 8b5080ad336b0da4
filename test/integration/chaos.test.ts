import { randomBytes } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import sharp from 'sharp'
import { afterAll, describe, expect, it } from 'vitest'
import { type Child, spawnCli, startServe } from '../helpers/child.js'
import { followToEnd } from '../helpers/follow.js'
import { startS3 } from '../helpers/s3.js'
import { KEY_A, tempDir } from '../helpers/server.js'
import { createSchema, POSTGRES_URL, probePostgres } from '../helpers/services.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

const postgres = await probePostgres()
const JOBS = Number(process.env.FLUXHOST_CHAOS_JOBS ?? 2000)
const SIZES = [
  [256, 256],
  [320, 256],
  [256, 384],
] as const
const sizeOf = (i: number) => SIZES[i % SIZES.length]!

/**
 * Two API processes and three worker processes (real `fluxhost serve --no-worker` and
 * `fluxhost worker` children) on one PostgreSQL and bucket, on default settings (30 s leases,
 * 3 attempts). A client sends JOBS creates, each with its own Idempotency-Key, 32 at a time,
 * and retries a create whose answer it lost on the other API with the same key. Three times,
 * inside a burst of creates (with requests in flight to it), a process is SIGKILLed: a worker,
 * an API, then one of each; a replacement starts each time. Counted from the client's side:
 * every request got one id, no two requests got the same one, every id succeeded, no job exists
 * that no request was answered with, the key was charged once per request, every image decodes
 * at the size asked for, and every id's webhook was delivered.
 */
describe.runIf(postgres.ok)('chaos: SIGKILLs inside bursts of creates among 2 API and 3 worker processes', () => {
  const children: Child[] = []
  const cleanups: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const child of children) child.process.kill('SIGKILL')
    await Promise.all(children.map((c) => c.exited))
    for (const cleanup of cleanups.reverse()) await cleanup()
  })

  it(`${JOBS} idempotent creates: one job each, all succeed, charged once, decoded, delivered`, async () => {
    const s3 = await startS3()
    cleanups.push(() => s3.close())
    const { schema, drop } = await createSchema()
    cleanups.push(drop)
    const hooks = await startReceiver()
    cleanups.push(() => hooks.close())
    const env = {
      DATABASE_URL: POSTGRES_URL,
      FLUXHOST_DATABASE_SCHEMA: schema,
      ...s3.env,
      FLUXHOST_FILE_URL_SECRET: randomBytes(32).toString('hex'),
      FLUXHOST_API_KEYS: KEY_A,
      FLUXHOST_ALLOW_PRIVATE_URLS: '1',
      FLUXHOST_LOG_LEVEL: 'warn',
    }
    const startApi = async () => {
      const api = await startServe({ ...env, FLUXHOST_DATA_DIR: tempDir(), FLUXHOST_WORKER: 'false' })
      children.push(api.child)
      return api
    }
    const startWorker = async () => {
      const worker = spawnCli(['worker', '--worker-concurrency', '3'], { ...env, FLUXHOST_DATA_DIR: tempDir() })
      children.push(worker)
      await worker.waitFor(/worker: 3 at a time/)
      return worker
    }
    // Migrations run under an advisory lock: all five start at once.
    const [apiA, apiB, ...workerList] = await Promise.all([
      startApi(),
      startApi(),
      startWorker(),
      startWorker(),
      startWorker(),
    ])
    const apis = [apiA, apiB]
    const workers = workerList

    // Kills, each fired by a create right after it was sent (so inside a burst, with requests
    // in flight to the API it kills), at a quarter, half and three quarters of the creates.
    type Kill = 'worker' | 'api' | 'both'
    const plan: { at: number; what: Kill }[] = [
      { at: Math.floor(JOBS / 4), what: 'worker' },
      { at: Math.floor(JOBS / 2), what: 'api' },
      { at: Math.floor((3 * JOBS) / 4), what: 'both' },
    ]
    const kills: Promise<void>[] = []
    const kill = (what: Kill, apiIndex: number) => {
      const parts: Promise<void>[] = []
      if (what !== 'api') {
        const victim = workers.shift()!
        victim.process.kill('SIGKILL')
        parts.push(victim.exited.then(() => startWorker()).then((w) => void workers.push(w)))
      }
      if (what !== 'worker') {
        const victim = apis[apiIndex]!
        victim.child.process.kill('SIGKILL')
        parts.push(
          victim.child.exited.then(() => startApi()).then((replacement) => void (apis[apiIndex] = replacement)),
        )
      }
      kills.push(Promise.all(parts).then(() => undefined))
    }

    // What each request was answered: request i → job id. The client's own ledger.
    const answers = new Map<number, string>()
    let lostAnswers = 0
    const runId = randomBytes(4).toString('hex')
    const submit = async (i: number): Promise<void> => {
      const [width, height] = sizeOf(i)
      const body = JSON.stringify({ prompt: `chaos ${i}`, width, height, seed: i, webhook_url: hooks.url })
      for (let tries = 0; ; tries++) {
        const apiIndex = (i + tries) % apis.length
        const sent = fetch(`${apis[apiIndex]!.url}/v1/flux-pro-1.1`, {
          method: 'POST',
          headers: { 'x-key': KEY_A, 'content-type': 'application/json', 'idempotency-key': `"${runId}-${i}"` },
          body,
          signal: AbortSignal.timeout(60_000),
        })
        const due = plan[0]
        if (due && i >= due.at) {
          plan.shift()
          kill(due.what, apiIndex)
        }
        try {
          const response = await sent
          if (response.status === 200) {
            answers.set(i, ((await response.json()) as { id: string }).id)
            return
          }
          await response.arrayBuffer()
          // 409: the first request with this key is still held (its API died before making the job).
          if (response.status !== 409 && response.status !== 503) throw new Error(`status ${response.status}`)
          await delay(Number(response.headers.get('retry-after') ?? 1) * 1000)
        } catch (error) {
          lostAnswers++
          if (tries >= 120) throw error
          // The API is gone: the other one answers at once (a load balancer's retry).
        }
      }
    }
    let next = 0
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < JOBS) await submit(next++)
      }),
    )
    await Promise.all(kills)

    // One id per request, no id twice.
    expect(answers.size).toBe(JOBS)
    const answered = new Set(answers.values())
    expect(answered.size).toBe(JOBS)

    // Every job the key can see, read through the API: exactly the answered ones, all succeeded.
    const api = () => apis[0]!.url
    const get = async (path: string) =>
      (await fetch(`${api()}${path}`, { headers: { 'x-key': KEY_A } })).json() as Promise<any>
    const listAll = async () => {
      const listed: any[] = []
      let cursor: string | null = null
      do {
        const page: any = await get(`/api/jobs?limit=100${cursor ? `&cursor=${cursor}` : ''}`)
        listed.push(...page.data)
        cursor = page.nextCursor
      } while (cursor)
      return listed
    }
    // Jobs of a killed worker wait out their 30 s lease: follow each unfinished one to its end.
    const unfinished = (await listAll()).filter((job) => !['succeeded', 'failed', 'canceled'].includes(job.state))
    for (let at = 0; at < unfinished.length; at += 25)
      await Promise.all(unfinished.slice(at, at + 25).map((job) => followToEnd(api(), KEY_A, job.id)))
    const listed = await listAll()
    const listedIds = new Set(listed.map((job) => job.id as string))
    expect([...listedIds].filter((id) => !answered.has(id))).toEqual([])
    expect([...answered].filter((id) => !listedIds.has(id))).toEqual([])
    expect(listed.filter((job) => job.state !== 'succeeded').map((job) => [job.id, job.state, job.error])).toEqual([])

    // Charged once per request, from the key's own usage.
    const usage = await get('/api/usage')
    expect(usage.total).toMatchObject({ jobs: JOBS, images: JOBS })

    // Every image decodes, at the size its request asked for, through either API.
    const requestOf = new Map([...answers].map(([i, id]) => [id, i]))
    const wrong: string[] = []
    const ids = [...answered]
    for (let at = 0; at < ids.length; at += 25) {
      await Promise.all(
        ids.slice(at, at + 25).map(async (id, k) => {
          const base = apis[k % apis.length]!.url
          const result = await (await fetch(`${base}/v1/get_result?id=${id}`, { headers: { 'x-key': KEY_A } })).json()
          const image = await fetch((result as { result: { sample: string } }).result.sample)
          const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata()
          const [width, height] = sizeOf(requestOf.get(id)!)
          if (meta.width !== width || meta.height !== height) wrong.push(`${id}: ${meta.width}x${meta.height}`)
        }),
      )
    }
    expect(wrong).toEqual([])

    // Every answered id's webhook arrives (at least once), and none for a job no one was answered.
    const deliveredIds = () => new Set(hooks.requests.map((r) => JSON.parse(r.body).id as string))
    await new Promise<void>((resolve) => {
      const check = () => {
        if ([...answered].every((id) => deliveredIds().has(id))) resolve()
        else void hooks.received(hooks.requests.length + 1).then(check)
      }
      check()
    })
    expect([...deliveredIds()].filter((id) => !answered.has(id))).toEqual([])

    const reruns = listed.filter((job) => job.attempts > 1).length
    console.info(
      `chaos: ${JOBS} requests, ${lostAnswers} sends failed and were re-sent, ${reruns} jobs re-run after a kill, ` +
        `${hooks.requests.length} webhook requests`,
    )
  }, 900_000)
})
