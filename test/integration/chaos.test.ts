import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { type Child, spawnCli, startServe } from '../helpers/child.js'
import { startS3 } from '../helpers/s3.js'
import { KEY_A, tempDir } from '../helpers/server.js'
import { createSchema, POSTGRES_URL, probePostgres } from '../helpers/services.js'
import { openRawDb, openStoreAt } from '../helpers/store.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

const postgres = await probePostgres()
const JOBS = Number(process.env.FLUXHOST_CHAOS_JOBS ?? 2000)

/**
 * Two API processes and three worker processes (real `fluxhost serve --no-worker` and
 * `fluxhost worker` children) on one PostgreSQL and bucket, the jobs table as the queue and
 * events over LISTEN/NOTIFY. JOBS jobs are submitted across both APIs; midway one worker and
 * one API process are SIGKILLed and replacements started. Counted from the client's side,
 * every job it was answered must end, succeeded, be charged exactly once, have downloadable
 * images and have its webhook delivered.
 */
describe.runIf(postgres.ok)('chaos: SIGKILLs among 2 API and 3 worker processes', () => {
  const children: Child[] = []
  const cleanups: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const child of children) child.process.kill('SIGKILL')
    await Promise.all(children.map((c) => c.exited))
    for (const cleanup of cleanups.reverse()) await cleanup()
  })

  it(`${JOBS} jobs end exactly once, are charged once, are downloadable and are delivered`, async () => {
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
      FLUXHOST_LEASE_MS: '3000',
      // A short lease finds the killed worker's jobs fast; on two starved cores a live worker
      // may lose a lease too, so a job gets more than the default 3 attempts before it fails.
      FLUXHOST_MAX_ATTEMPTS: '10',
      FLUXHOST_WEBHOOK_RETRY_SCHEDULE: '0,200ms,500ms,1s,2s,5s',
      FLUXHOST_LOG_LEVEL: 'warn',
      FLUXHOST_PREVIEW_STEPS: '2',
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
    const [apiA, apiB, w1, w2, w3] = await Promise.all([
      startApi(),
      startApi(),
      startWorker(),
      startWorker(),
      startWorker(),
    ])
    void w2
    void w3
    const apis = [apiA.url, apiB.url]

    // The ids the client was answered: what "nothing lost" is counted against.
    const answered = new Set<string>()
    // A client that, like a load balancer, retries on the other API when one is gone.
    const submit = async (i: number): Promise<void> => {
      for (let tries = 0; ; tries++) {
        const url = apis[(i + tries) % apis.length]!
        try {
          const response = await fetch(`${url}/v1/flux-pro-1.1`, {
            method: 'POST',
            headers: { 'x-key': KEY_A, 'content-type': 'application/json' },
            body: JSON.stringify({ prompt: `chaos ${i}`, width: 256, height: 256, seed: i, webhook_url: hooks.url }),
          })
          if (response.status === 200) {
            answered.add(((await response.json()) as { id: string }).id)
            return
          }
          throw new Error(`status ${response.status}`)
        } catch (error) {
          if (tries >= 10) throw error
        }
      }
    }
    let next = 0
    let killed = false
    const kill = async () => {
      killed = true
      w1.process.kill('SIGKILL')
      apiA.child.process.kill('SIGKILL')
      await Promise.all([w1.exited, apiA.child.exited])
      const [replacement] = await Promise.all([startApi(), startWorker()])
      apis[0] = replacement.url
    }
    let killing: Promise<void> | undefined
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < JOBS) {
          const i = next++
          await submit(i)
          // Midway through the submissions, with jobs running everywhere: kill.
          if (!killed && i >= JOBS / 2) killing = kill()
        }
      }),
    )
    await killing

    expect(answered.size).toBe(JOBS)

    // Every job in the records must end and be delivered, also one whose create answer was
    // lost with its API process (the client retried it on the other API).
    const store = await openStoreAt({ kind: 'postgres', url: POSTGRES_URL, schema })
    cleanups.push(() => store.close())
    const raw = openRawDb({ kind: 'postgres', url: POSTGRES_URL, schema })
    cleanups.push(() => raw.destroy())
    const total = async () => Object.values(await store.jobs.countByState()).reduce((a, b) => a + b, 0)
    const inRecords = await total()
    expect(inRecords).toBeGreaterThanOrEqual(JOBS)
    const deliveredIds = () => new Set(hooks.requests.map((r) => JSON.parse(r.body).id as string))
    await new Promise<void>((resolve) => {
      const check = () => {
        if (deliveredIds().size >= inRecords) resolve()
        else void hooks.received(hooks.requests.length + 1).then(check)
      }
      check()
    })

    const counts = await store.jobs.countByState()
    expect(counts).toMatchObject({ queued: 0, running: 0 })
    // A job whose worker died on every attempt would be JOB_ABANDONED; none should be.
    expect(counts.failed).toBe(0)
    const jobs = await store.jobs.list({ limit: inRecords + 10 })
    const byId = new Map(jobs.map((job) => [job.id, job]))
    // From the client's side: every answered id succeeded and was delivered.
    const delivered = deliveredIds()
    expect([...answered].filter((id) => byId.get(id)?.state !== 'succeeded')).toEqual([])
    expect([...answered].filter((id) => !delivered.has(id))).toEqual([])
    // Charged exactly once each (charges are keyed by job): every answered job has one charge.
    const charges = await raw.selectFrom('charges').select(['job_id']).execute()
    const chargesOf = new Map<string, number>()
    for (const charge of charges) chargesOf.set(charge.job_id, (chargesOf.get(charge.job_id) ?? 0) + 1)
    expect([...answered].filter((id) => chargesOf.get(id) !== 1)).toEqual([])
    expect(charges).toHaveLength(counts.succeeded)

    // What the kills did (reported, not asserted: a kill between two jobs re-runs none).
    console.info(
      `chaos: ${JOBS} answered, ${inRecords} in the records; ` +
        `${jobs.filter((j) => j.attempts > 1).length} re-run after the worker was killed; ` +
        `${hooks.requests.length} webhook requests`,
    )

    // Every answered job's images are downloadable, through either API.
    const ids = [...answered]
    let failures = 0
    for (let at = 0; at < ids.length; at += 25) {
      await Promise.all(
        ids.slice(at, at + 25).map(async (id, k) => {
          const api = apis[k % apis.length]!
          const result = (await (
            await fetch(`${api}/v1/get_result?id=${id}`, { headers: { 'x-key': KEY_A } })
          ).json()) as { result: { sample: string } }
          const image = await fetch(result.result.sample)
          if (image.status !== 200 || (await image.arrayBuffer()).byteLength === 0) failures++
        }),
      )
    }
    expect(failures).toBe(0)
  }, 600_000)
})
