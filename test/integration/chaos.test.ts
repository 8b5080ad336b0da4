import { randomBytes } from 'node:crypto'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../../src/store/open-store.js'
import type { Store } from '../../src/store/store.js'
import { spawnCli, startServe, type Child } from '../helpers/child.js'
import { startS3 } from '../helpers/s3.js'
import { KEY_A, tempDir } from '../helpers/server.js'
import { createSchema, dropRedisPrefix, POSTGRES_URL, probePostgres, probeRedis, REDIS_URL, redisPrefix } from '../helpers/services.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

const postgres = await probePostgres()
const redis = await probeRedis()
const JOBS = Number(process.env.FLUXHOST_CHAOS_JOBS ?? 2000)

/**
 * Two API processes and three worker processes (real `fluxhost serve --no-worker` and
 * `fluxhost worker` children) on one PostgreSQL, Redis and bucket. JOBS jobs are submitted
 * across both APIs; midway one worker and one API process are SIGKILLed and replacements
 * started. Every job must end exactly once, be charged at most once (once if it succeeded),
 * have downloadable images, and have its webhook delivered.
 */
describe.runIf(postgres.ok && redis.ok)('chaos: SIGKILLs among 2 API and 3 worker processes', () => {
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
    const prefix = redisPrefix()
    cleanups.push(() => dropRedisPrefix(prefix))
    const hooks = await startReceiver()
    cleanups.push(() => hooks.close())
    const env = {
      DATABASE_URL: POSTGRES_URL,
      FLUXHOST_DATABASE_SCHEMA: schema,
      REDIS_URL,
      FLUXHOST_REDIS_PREFIX: prefix,
      FLUXHOST_QUEUE: 'bullmq',
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
    const [apiA, apiB, w1, w2, w3] = await Promise.all([startApi(), startApi(), startWorker(), startWorker(), startWorker()])
    void w2
    void w3
    const apis = [apiA.url, apiB.url]

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
          if (response.status === 200) return
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

    // Every job in the records, wherever its create request died, must end and be delivered.
    const store: Store = (await openPostgresStore(POSTGRES_URL, { schema })).store
    cleanups.push(() => store.close())
    const total = async () => Object.values(await store.jobs.countByState()).reduce((a, b) => a + b, 0)
    const submitted = await total()
    expect(submitted).toBeGreaterThanOrEqual(JOBS)
    const deliveredIds = () => new Set(hooks.requests.map((r) => JSON.parse(r.body).id as string))
    await new Promise<void>((resolve) => {
      const check = () => {
        if (deliveredIds().size >= submitted) resolve()
        else void hooks.received(hooks.requests.length + 1).then(check)
      }
      check()
    })

    const counts = await store.jobs.countByState()
    expect(counts).toMatchObject({ queued: 0, running: 0 })
    expect(counts.succeeded + counts.failed + counts.canceled).toBe(submitted)
    // A job whose worker died on every attempt would be JOB_ABANDONED; none should be.
    expect(counts.failed).toBe(0)
    // Charged at most once (charges are keyed by job), and exactly once when it succeeded.
    const charges = await store.db.selectFrom('charges').select(['job_id']).execute()
    expect(charges).toHaveLength(counts.succeeded)
    expect(new Set(charges.map((c) => c.job_id)).size).toBe(charges.length)
    // No webhook lost: every job's id arrived at the receiver.
    const jobs = await store.jobs.list({ limit: submitted + 10 })
    const delivered = deliveredIds()
    expect(jobs.filter((job) => !delivered.has(job.id))).toEqual([])

    // BullMQ carried the jobs, and holds none still waiting to be dispatched (entries being
    // let go or put off may remain a moment; BullMQ never fails one itself).
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null })
    const bull = new Queue('jobs', { connection: redis, prefix: prefix.replace(/:$/, '') })
    const entries = await bull.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed')
    // BullMQ's event stream names our jobs (it is capped: look at the latest events).
    const recent = await redis.xrevrange(bull.toKey('events'), '+', '-', 'COUNT', 500)
    const ids = new Set(jobs.map((job) => job.id))
    const dispatched = recent.filter(([, fields]) => fields.some((field, i) => i % 2 === 1 && ids.has(field))).length
    await bull.close()
    redis.disconnect()
    expect(dispatched).toBeGreaterThan(0)
    expect(entries).toMatchObject({ wait: 0, prioritized: 0, failed: 0 })

    // What the kills did (reported, not asserted: a kill between two jobs re-runs none).
    console.info(`chaos: ${submitted} jobs for ${JOBS} submissions; ${jobs.filter((j) => j.attempts > 1).length} re-run after the worker was killed; ${hooks.requests.length} webhook requests; BullMQ entries left ${JSON.stringify(entries)}`)

    // Every succeeded job's images are downloadable, through either API.
    const succeeded = jobs.filter((job) => job.state === 'succeeded')
    let failures = 0
    for (let at = 0; at < succeeded.length; at += 25) {
      await Promise.all(
        succeeded.slice(at, at + 25).map(async (job, k) => {
          const api = apis[k % apis.length]!
          const result = (await (await fetch(`${api}/v1/get_result?id=${job.id}`, { headers: { 'x-key': KEY_A } })).json()) as { result: { sample: string } }
          const image = await fetch(result.result.sample)
          if (image.status !== 200 || (await image.arrayBuffer()).byteLength === 0) failures++
        }),
      )
    }
    expect(failures).toBe(0)
  }, 600_000)
})
