import type { ProviderScript } from './provider.js'

/** fal's image_size presets (fal-js endpoints.ts ImageSize enum). */
const PRESETS: Record<string, [number, number]> = {
  square_hd: [1024, 1024],
  square: [512, 512],
  portrait_4_3: [768, 1024],
  portrait_16_9: [576, 1024],
  landscape_4_3: [1024, 768],
  landscape_16_9: [1024, 576],
}

/** The size a request renders at: image_size (object or preset), or ultra's aspect ratio at about 4 MP. */
export function sizeOf(body: any): [number, number] {
  const size = body.image_size
  if (size && typeof size === 'object') return [Number(size.width), Number(size.height)]
  if (typeof size === 'string' && PRESETS[size]) return PRESETS[size]
  if (typeof body.aspect_ratio === 'string') {
    const [w, h] = body.aspect_ratio.split(':').map(Number)
    const width = Math.round(Math.sqrt((4_000_000 * w) / h) / 32) * 32
    return [width, Math.round((width * h) / w / 32) * 32]
  }
  return PRESETS.landscape_4_3!
}

/** A completed request's result (what GET on its response URL answers, and a webhook's payload). */
export function resultOf(
  task: { id: string; body: any; script: ProviderScript },
  base: string,
): { status: number; body: unknown; headers: Record<string, string> } {
  const headers = { 'x-fal-request-id': task.id }
  switch (task.script.outcome ?? 'ready') {
    case 'request_moderated': {
      const flagged = {
        loc: ['body', 'prompt'],
        msg: 'The content was flagged by a content checker.',
        type: 'content_policy_violation',
        url: 'https://docs.fal.ai/errors#content_policy_violation',
        input: task.body.prompt,
      }
      return { status: 422, body: { detail: [flagged] }, headers }
    }
    case 'error': {
      const body = { detail: 'Request timed out', error_type: 'request_timeout' }
      return { status: 504, body, headers: { ...headers, 'x-fal-error-type': 'request_timeout' } }
    }
  }
  const [width, height] = sizeOf(task.body)
  const format = task.body.output_format === 'png' ? 'png' : 'jpeg'
  const count = Number(task.body.num_images ?? 1)
  const images = Array.from({ length: count }, (_, n) => ({
    url: `${base}/files/${task.id}/${n}.${format}`,
    width,
    height,
    content_type: `image/${format}`,
  }))
  const flagged = task.script.outcome === 'content_moderated'
  const body = {
    images,
    seed: task.body.seed,
    prompt: task.body.prompt,
    has_nsfw_concepts: images.map(() => flagged),
    timings: { inference: 1.5 },
  }
  return { status: 200, body, headers }
}
