import sharp from 'sharp'
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
