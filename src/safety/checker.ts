import sharp from 'sharp'
import type { EngineName } from '../domain/engines.js'
import type { EngineImage } from '../engines/engine.js'
import type { ImageClassifier, NsfwScores, RgbImage } from './classifier.js'
import { judgeOutput, type PromptPolicy } from './policy.js'

export interface OutputVerdict {
  /** Why it is flagged at the request's tolerance; undefined when it passes. */
  flagged: string | undefined
  scores: NsfwScores
  ms: number
}

/** The prompt blocklist and, when enabled, the output classifier, as workers use them. */
export interface SafetyChecker {
  /** The blocked term in the prompt at this tolerance, or undefined. */
  checkPrompt(prompt: string, tolerance: number): string | undefined
  /** Classifies one output image; undefined when the output classifier is off. */
  checkOutput?(image: EngineImage, tolerance: number, signal?: AbortSignal): Promise<OutputVerdict>
}

/** Why a job's outputs skip the output classifier (see `outputCheckSkipped`). */
export type OutputCheckSkip = 'cloud engine' | 'preview render'

const PREVIEW: EngineName = 'preview'

/**
 * Why the outputs of the engine that served a job skip the output classifier, or undefined
 * when they go through it. Cloud engines (BFL) moderate their own. The preview engine's own
 * renders are synthetic gradients and soft blobs that no prompt can steer toward anything:
 * classifying them tests nothing, costs ~100 ms of CPU an image, and the classifier misreads
 * a few skin-toned palettes as explicit, refusing a render for no reason a client could see
 * (issue 13, item 16). A preview job with an image prompt shows the client's own image, so
 * its outputs are classified like any local engine's (that is how tests classify on preview).
 */
export function outputCheckSkipped(
  routed: { engine: string; local: boolean },
  task: { imagePrompt?: unknown },
): OutputCheckSkip | undefined {
  if (!routed.local) return 'cloud engine'
  if (routed.engine === PREVIEW && task.imagePrompt === undefined) return 'preview render'
  return undefined
}

/** An engine image as packed RGB, decoding or dropping alpha when needed. */
export async function toRgb(image: EngineImage): Promise<RgbImage> {
  if (image.kind === 'raw' && image.channels === 3)
    return { data: image.data, width: image.width, height: image.height }
  const input =
    image.kind === 'raw'
      ? sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
      : sharp(image.data)
  const { data, info } = await input.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}

/** A black image the size of `image`, for APIs that blank flagged outputs (AIML, fal). */
export async function blackLike(image: EngineImage): Promise<EngineImage> {
  const { width, height } = image.kind === 'raw' ? image : await toRgb(image)
  return { kind: 'raw', data: Buffer.alloc(width * height * 3), width, height, channels: 3 }
}

export function createSafetyChecker(prompts: PromptPolicy, classifier: ImageClassifier | undefined): SafetyChecker {
  return {
    checkPrompt: (prompt, tolerance) => prompts.check(prompt, tolerance),
    checkOutput: classifier
      ? async (image, tolerance, signal) => {
          const { ms, ...scores } = await classifier.classify(await toRgb(image), signal)
          return { flagged: judgeOutput(scores, tolerance), scores, ms }
        }
      : undefined,
  }
}
