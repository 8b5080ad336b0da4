import path from 'node:path'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { BlobStore } from '../../src/blobs/blob-store.js'
import { createFsBlobStore } from '../../src/blobs/fs/fs-blob-store.js'
import { blobKeys } from '../../src/blobs/keys.js'
import type { GenerationRequest, Job } from '../../src/domain/job.js'
import { createRetentionService } from '../../src/services/retention.js'
import { probePostgres } from '../helpers/services.js'
import { openStoreAt, openTestStore, queuedJob, type StoreKind, type TestStore } from '../helpers/store.js'

const postgres = await probePostgres()
const KINDS: StoreKind[] = ['sqlite', ...(postgres.ok ? (['postgres'] as const) : [])]

const DAY = 86_400_000
const NOW = 1_800_000_000_000 + 100 * DAY
const RETENTION = 30 * DAY
const OLD = NOW - 40 * DAY
const RECENT = NOW - 2 * DAY
const silent = pino({ level: 'silent' })

/** A succeeded job that ended at `finishedAt`, with its images (and image prompt) keys. */
function succeeded(id: string, finishedAt: number, request: Partial<GenerationRequest> = {}, images = 1): Job {
  const base = queuedJob(id)
  return {
    ...base,
    request: { ...base.request, numImages: images, ...request },
    state: 'succeeded',
    result: {
      images: Array.from({ length: images }, (_, i) => ({
        key: blobKeys.output(id, 1, i, 'jpeg'),
        width: 256,
        height: 256,
        contentType: 'image/jpeg',
        bytes: 100,
      })),
      prompt: `upsampled ${id}`,
      seed: 7,
      inferenceMs: 12,
    },
    error: null,
    attempts: 1,
    startedAt: new Date(finishedAt - 1000),
    finishedAt: new Date(finishedAt),
  }
}

function failed(id: string, finishedAt: number): Job {
  return {
    ...queuedJob(id),
    state: 'failed',
    result: null,
    error: { code: 'ENGINE_FAILED', message: 'boom' },
    finishedAt: new Date(finishedAt),
  }
}

describe.each(KINDS)('retention on %s', (kind) => {
  let t: TestStore
  let blobs: BlobStore
  const retention = (options: { batchSize?: number; blobs?: BlobStore; store?: TestStore['store'] } = {}) =>
    createRetentionService({
      store: options.store ?? t.store,
      blobs: options.blobs ?? blobs,
      clock: { now: () => NOW },
      logger: silent,
      retentionMs: RETENTION,
      batchSize: options.batchSize ?? 2,
    })

  /** Inserts the job, its charge and its files (outputs, a thumbnail, the image prompt). */
  const add = async (job: Job) => {
    await t.store.jobs.insert(job)
    if (job.state === 'succeeded') {
      await t.store.charges.insert({
        job_id: job.id,
        api_key_id: 'k',
        model: job.model,
        images: job.result.images.length,
        amount_micros: 40_000 * job.result.images.length,
        created_at: job.finishedAt.getTime(),
      })
      for (const image of job.result.images) {
        await blobs.put(image.key, Buffer.alloc(100), 'image/jpeg')
        await blobs.put(blobKeys.thumbnail(image.key), Buffer.alloc(10), 'image/webp')
      }
    }
    if (job.request.imagePrompt) await blobs.put(job.request.imagePrompt.key, Buffer.alloc(50), 'image/png')
  }
  const rawJob = (id: string) => t.raw.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  const charges = () => t.raw.selectFrom('charges').selectAll().orderBy('job_id').execute()

  beforeEach(async () => {
    t = await openTestStore(kind)
    blobs = createFsBlobStore(path.join(t.dir, 'blobs'))
  })
  afterEach(() => t.close())

  it('prunes old finished jobs in batches: files gone, prompt and inputs scrubbed, charges untouched', async () => {
    const guided = { key: blobKeys.imagePrompt('old-1', 'png'), strength: 0.4 }
    const webhook = { url: 'https://hooks.example/x', secret: 'bfl-secret' }
    await add(succeeded('old-1', OLD, { imagePrompt: guided, webhook }, 2))
    for (const id of ['old-2', 'old-3', 'old-4']) await add(succeeded(id, OLD + 1000))
    await add(failed('old-5', OLD))
    await add(queuedJob('queued-1'))
    await add(succeeded('new-1', RECENT))
    const usage = await t.store.charges.totals('k')
    const ledger = await charges()

    const dry = await retention().prune({ dryRun: true })
    expect(dry).toMatchObject({ dryRun: true, ran: true, jobs: 5, images: 5, bytes: 500, imagePrompts: 1, failed: 0 })
    expect(dry.cutoff.getTime()).toBe(NOW - RETENTION)
    expect((await rawJob('old-1')).pruned_at).toBeNull()
    expect(await blobs.stat(blobKeys.output('old-1', 1, 0, 'jpeg'))).toBeDefined()

    // Batches of two: three batches and a last, short one.
    const report = await retention().prune()
    expect(report).toMatchObject({ dryRun: false, ran: true, jobs: 5, images: 5, bytes: 500, imagePrompts: 1 })

    const row = await rawJob('old-1')
    expect(Number(row.pruned_at)).toBe(NOW)
    const request = JSON.parse(row.request) as GenerationRequest
    expect(request).toMatchObject({ prompt: '', model: 'flux-pro-1.1', width: 256, numImages: 2, seed: 1 })
    expect(request.imagePrompt).toBeUndefined()
    expect(request.webhook).toEqual({ url: 'https://hooks.example/x' })
    expect(JSON.parse(row.result!)).toEqual({ images: [], prompt: '', seed: 7, inferenceMs: 12 })
    expect(row.state).toBe('succeeded')
    for (const key of [
      blobKeys.output('old-1', 1, 0, 'jpeg'),
      blobKeys.thumbnail(blobKeys.output('old-1', 1, 1, 'jpeg')),
      guided.key,
      blobKeys.output('old-4', 1, 0, 'jpeg'),
    ])
      expect(await blobs.stat(key), key).toBeUndefined()
    const failedRow = await rawJob('old-5')
    expect(failedRow.pruned_at).not.toBeNull()
    expect(failedRow.error_code).toBe('ENGINE_FAILED')

    // The domain reads it as pruned, with no images.
    const job = await t.store.jobs.get('old-2')
    expect(job).toMatchObject({ state: 'succeeded', result: { images: [] }, request: { prompt: '' } })
    expect(job!.prunedAt).toEqual(new Date(NOW))

    // What is younger than the period, or not finished, is untouched.
    expect((await rawJob('new-1')).pruned_at).toBeNull()
    expect((await t.store.jobs.get('new-1'))!.request.prompt).toBe('p new-1')
    expect(await blobs.stat(blobKeys.output('new-1', 1, 0, 'jpeg'))).toBeDefined()
    expect((await rawJob('queued-1')).pruned_at).toBeNull()

    expect(await charges()).toEqual(ledger)
    expect(await t.store.charges.totals('k')).toEqual(usage)
    // Nothing left: a second sweep finds nothing.
    expect(await retention().prune()).toMatchObject({ jobs: 0, images: 0 })
  })

  it('a job whose files cannot be deleted stays unpruned until a sweep can, and holds up no other', async () => {
    for (const id of ['a', 'b', 'c']) await add(succeeded(id, OLD))
    const flaky: BlobStore = {
      ...blobs,
      deletePrefix: async (prefix) => {
        if (prefix === blobKeys.outputs('b')) throw new Error('bucket unavailable')
        return blobs.deletePrefix(prefix)
      },
    }
    // One job per batch: the one that fails is passed over, the one behind it is pruned.
    const first = await retention({ blobs: flaky, batchSize: 1 }).prune()
    expect(first).toMatchObject({ jobs: 2, failed: 1 })
    expect((await rawJob('b')).pruned_at).toBeNull()
    expect((await t.store.jobs.get('b'))!.request.prompt).toBe('p b')
    expect(await retention().prune()).toMatchObject({ jobs: 1, failed: 0 })
    expect(await blobs.stat(blobKeys.output('b', 1, 0, 'jpeg'))).toBeUndefined()
  })

  it('removes finished webhook deliveries older than the period with their attempts, and expired keys', async () => {
    const webhook = { url: 'https://hooks.example/x' }
    for (const id of ['h-old', 'h-pending', 'h-new'])
      await add(succeeded(id, id === 'h-new' ? RECENT : OLD, { webhook }))
    const deliveries = await t.raw.selectFrom('webhook_deliveries').select(['id', 'job_id']).execute()
    expect(deliveries).toHaveLength(3)
    const of = (jobId: string) => deliveries.find((d) => d.job_id === jobId)!.id
    for (const [jobId, at] of [
      ['h-old', OLD],
      ['h-new', RECENT],
    ] as const) {
      await t.raw
        .updateTable('webhook_deliveries')
        .set({ state: 'delivered', finished_at: at, attempts: 2 })
        .where('id', '=', of(jobId))
        .execute()
      for (const attempt of [1, 2])
        await t.raw
          .insertInto('webhook_attempts')
          .values({
            delivery_id: of(jobId),
            attempt,
            started_at: at,
            latency_ms: 5,
            status: 200,
            error: null,
            outcome: 'delivered',
          })
          .execute()
    }
    await t.store.idempotency.claim('k', 'expired', 'fp', 'h1', OLD, OLD + 1000, NOW - 1)
    await t.store.idempotency.claim('k', 'live', 'fp', 'h2', NOW, NOW + 1000, NOW + DAY)

    expect(await retention().prune({ dryRun: true })).toMatchObject({
      webhookDeliveries: 1,
      webhookAttempts: 2,
      idempotencyKeys: 1,
    })
    expect(await t.raw.selectFrom('webhook_attempts').select('delivery_id').execute()).toHaveLength(4)
    expect(await retention({ batchSize: 1 }).prune()).toMatchObject({
      webhookDeliveries: 1,
      webhookAttempts: 2,
      idempotencyKeys: 1,
    })
    const left = await t.raw.selectFrom('webhook_deliveries').select('id').orderBy('id').execute()
    expect(left.map((d) => d.id).sort()).toEqual([of('h-pending'), of('h-new')].sort())
    const attempts = await t.raw.selectFrom('webhook_attempts').select('delivery_id').execute()
    expect(attempts.map((a) => a.delivery_id)).toEqual([of('h-new'), of('h-new')])
    const keys = await t.raw.selectFrom('idempotency_keys').select('key').execute()
    expect(keys.map((k) => k.key)).toEqual(['live'])
  })

  it.runIf(kind === 'postgres')('runs one sweep at a time across processes, per schema', async () => {
    for (const id of ['x', 'y', 'z']) await add(succeeded(id, OLD))
    let entered!: () => void
    const inside = new Promise<void>((resolve) => (entered = resolve))
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const slow: BlobStore = {
      ...blobs,
      deletePrefix: async (prefix) => {
        entered()
        await gate
        return blobs.deletePrefix(prefix)
      },
    }
    const first = retention({ blobs: slow, batchSize: 10 }).prune()
    await inside
    // Another process on the same records: refused while the first sweeps.
    const other = await openStoreAt(t.at)
    try {
      expect(await retention({ store: other }).prune()).toMatchObject({ ran: false, jobs: 0 })
      // Records in another schema of the same database are not held up.
      const elsewhere = await openTestStore('postgres')
      try {
        expect(await retention({ store: elsewhere.store }).prune()).toMatchObject({ ran: true })
      } finally {
        await elsewhere.close()
      }
      release()
      expect(await first).toMatchObject({ ran: true, jobs: 3 })
      // Once it ended, the lock is free again.
      expect(await retention({ store: other }).prune()).toMatchObject({ ran: true, jobs: 0 })
    } finally {
      release()
      await other.close()
    }
  })
})
