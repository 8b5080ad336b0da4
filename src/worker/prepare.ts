import type { BlobStore } from '../blobs/blob-store.js'
import type { Job, UpsamplingOutcome } from '../domain/job.js'
import type { EngineTask } from '../engines/engine.js'
import { EngineError } from '../engines/engine-error.js'
import { UpsamplerError } from '../prompts/upsampler.js'
import type { RunJobDeps } from './deps.js'

/**
 * `prompt_upsampling` (unless `raw`): the engine does it when it can (BFL); otherwise the
 * configured upsampler rewrites the prompt; otherwise the result says it was not applied.
 * An upsampler that fails leaves the prompt as given, and the result says why.
 */
export async function upsample(
  job: Job,
  deps: RunJobDeps,
  signal: AbortSignal,
): Promise<{ prompt: string; upsampling?: UpsamplingOutcome; nativeUpsampling: boolean }> {
  const { request } = job
  if (!request.promptUpsampling || request.raw) return { prompt: request.prompt, nativeUpsampling: false }
  if (deps.router.enginesFor(request.model)[0]?.upsamplesPrompts) {
    return { prompt: request.prompt, upsampling: { applied: true, by: 'engine' }, nativeUpsampling: true }
  }
  if (!deps.upsampler) {
    return {
      prompt: request.prompt,
      upsampling: {
        applied: false,
        reason: 'the engine does not upsample prompts and no upsampler is configured (FLUXHOST_UPSAMPLER_URL)',
      },
      nativeUpsampling: false,
    }
  }
  try {
    const prompt = await deps.upsampler.rewrite(request.prompt, signal)
    return { prompt, upsampling: { applied: true, by: 'upsampler' }, nativeUpsampling: false }
  } catch (error) {
    if (signal.aborted) throw new EngineError('canceled', 'aborted while upsampling the prompt')
    deps.logger.warn(
      { jobId: job.id, err: error, detail: (error as { detail?: string }).detail },
      'job:upsampling-failed',
    )
    // Clients see the reason without upstream addresses or text (those are in the log).
    const reason = error instanceof UpsamplerError ? error.message : 'the upsampler failed'
    return { prompt: request.prompt, upsampling: { applied: false, reason }, nativeUpsampling: false }
  }
}

export async function buildTask(job: Job, blobs: BlobStore): Promise<EngineTask> {
  const { request } = job
  let imagePrompt: EngineTask['imagePrompt']
  if (request.imagePrompt) {
    const data = await blobs.read(request.imagePrompt.key)
    if (!data) throw new EngineError('invalid', 'the stored image prompt is missing')
    imagePrompt = { data, strength: request.imagePrompt.strength }
  }
  return {
    jobId: job.id,
    model: request.model,
    prompt: request.prompt,
    width: request.width,
    height: request.height,
    seed: request.seed,
    numImages: request.numImages,
    promptUpsampling: request.promptUpsampling,
    raw: request.raw,
    safetyTolerance: request.safetyTolerance,
    ...(request.steps === undefined ? {} : { steps: request.steps }),
    ...(request.guidance === undefined ? {} : { guidance: request.guidance }),
    ...(request.aspectRatio === undefined ? {} : { aspectRatio: request.aspectRatio }),
    imagePrompt,
    output: request.output,
    simulate: request.simulate,
  }
}
