import { Worker } from 'node:worker_threads'

/** nsfwjs's five classes, as probabilities that sum to 1. */
export interface NsfwScores {
  drawing: number
  hentai: number
  neutral: number
  porn: number
  sexy: number
}

/** An RGB image, 8 bits a channel, rows top to bottom. */
export interface RgbImage {
  data: Buffer
  width: number
  height: number
}

export interface ImageClassifier {
  /** Loads the model (the first classify does it too); resolves when it can classify. */
  ready(): Promise<void>
  classify(image: RgbImage, signal?: AbortSignal): Promise<NsfwScores & { ms: number }>
  close(): Promise<void>
}

type Reply = { id: number; ok: true; scores?: NsfwScores; ms?: number } | { id: number; ok: false; error: string }

/**
 * The output classifier: nsfwjs (MobileNetV2) on TensorFlow.js's wasm backend, in a worker
 * thread so that inference (~100 ms an image on one core) never blocks the event loop. The
 * model loads once per worker, on first use. Images are spread over `threads` workers.
 */
export function createNsfwClassifier(options: { threads?: number } = {}): ImageClassifier {
  const threads = Math.max(1, options.threads ?? 1)
  const url = new URL('../../workers/nsfw-worker.mjs', import.meta.url)
  const pool: { worker: Worker; busy: number; pending: Map<number, (reply: Reply) => void> }[] = []
  let nextId = 0
  let closed = false

  const spawn = () => {
    const entry = { worker: new Worker(url), busy: 0, pending: new Map<number, (reply: Reply) => void>() }
    entry.worker.on('message', (reply: Reply) => {
      const settle = entry.pending.get(reply.id)
      entry.pending.delete(reply.id)
      // Idle threads do not keep the process alive; busy ones do, until they answer.
      if (--entry.busy === 0) entry.worker.unref()
      settle?.(reply)
    })
    // A thread that fails or exits takes its pending images with it: they fail, and the
    // next image gets a fresh thread.
    const lose = (why: string) => {
      for (const settle of entry.pending.values()) settle({ id: -1, ok: false, error: why })
      entry.pending.clear()
      const index = pool.indexOf(entry)
      if (index >= 0) pool.splice(index, 1)
    }
    entry.worker.on('error', (error) => lose(`classifier thread failed: ${error.message}`))
    entry.worker.on('exit', (code) => lose(`classifier thread exited (code ${code})`))
    entry.worker.unref()
    pool.push(entry)
    return entry
  }

  const send = (message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> => {
    if (closed) return Promise.reject(new Error('the classifier is closed'))
    const entry = pool.length < threads ? spawn() : pool.reduce((a, b) => (b.busy < a.busy ? b : a))
    const id = nextId++
    if (entry.busy++ === 0) entry.worker.ref()
    return new Promise((resolve) => {
      entry.pending.set(id, resolve)
      entry.worker.postMessage({ ...message, id }, transfer)
    })
  }

  return {
    async ready() {
      while (pool.length < threads) spawn()
      const replies = await Promise.all(pool.map(() => send({ type: 'load' })))
      const failed = replies.find((r) => !r.ok)
      if (failed && !failed.ok) throw new Error(failed.error)
    },

    async classify(image, signal) {
      signal?.throwIfAborted()
      if (image.data.length !== image.width * image.height * 3) throw new Error('classify expects packed RGB')
      // A copy the worker can own: the caller keeps its pixels for encoding.
      const copy = new Uint8Array(image.data).buffer
      const reply = await send({ type: 'classify', data: copy, width: image.width, height: image.height }, [copy])
      if (!reply.ok) throw new Error(reply.error)
      return { ...reply.scores!, ms: reply.ms ?? 0 }
    },

    async close() {
      closed = true
      await Promise.all(pool.splice(0).map((entry) => entry.worker.terminate()))
    },
  }
}
