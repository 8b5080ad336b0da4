import fs from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { createPreviewEngine } from '../../src/engines/preview/preview-engine.js'
import { outputCheckSkipped, toRgb } from '../../src/safety/checker.js'
import { createNsfwClassifier } from '../../src/safety/classifier.js'
import {
  createPromptPolicy,
  DEFAULT_BLOCKLIST,
  judgeOutput,
  OUTPUT_THRESHOLDS,
  parseBlocklist,
} from '../../src/safety/policy.js'

// Abstract 16×16 colour grids, upscaled, found by hill-climbing on the classifier's own
// scores (scripts/make-safety-fixtures.mjs): no real imagery, but the model reads them as
// explicit, strongly (strong) or about halfway (mid).
const fixture = (name: string) => fs.readFileSync(new URL(`../fixtures/safety/${name}`, import.meta.url))

const classifier = createNsfwClassifier()
afterAll(() => classifier.close())

const scoresOf = async (png: Buffer) => classifier.classify(await toRgb({ kind: 'encoded', data: png }))
const tolerances = [0, 1, 2, 3, 4, 5, 6]

describe('output classifier (nsfwjs MobileNetV2 on tfjs wasm, in a worker thread)', () => {
  it('flags the strong case at every tolerance', async () => {
    const scores = await scoresOf(fixture('grid-strong.png'))
    expect(scores.porn).toBeGreaterThan(0.95)
    expect(tolerances.map((t) => judgeOutput(scores, t) !== undefined)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      true,
    ])
    expect(judgeOutput(scores, 6)).toMatch(/explicit content \(porn 98% ≥ 97% at safety_tolerance 6\)/)
  })

  it('flags the middling case only at the strict tolerances', async () => {
    const scores = await scoresOf(fixture('grid-mid.png'))
    expect(scores.porn).toBeGreaterThan(0.5)
    expect(scores.porn).toBeLessThan(0.7)
    expect(tolerances.map((t) => judgeOutput(scores, t) !== undefined)).toEqual([
      true,
      true,
      false,
      false,
      false,
      false,
      false,
    ])
  })

  it('passes a neutral image (a preview render) at the strictest tolerance', async () => {
    const engine = createPreviewEngine({ steps: 4 })
    const output = await engine.generate(
      {
        jobId: 'j',
        model: 'flux-pro-1.1',
        prompt: 'a teal lighthouse at dusk',
        width: 512,
        height: 384,
        seed: 3,
        numImages: 1,
        promptUpsampling: false,
        raw: false,
        safetyTolerance: 0,
        output: { format: 'png', quality: 90 },
      },
      { signal: new AbortController().signal, progress: () => undefined },
    )
    const scores = await classifier.classify(await toRgb(output.images[0]!))
    expect(scores.neutral + scores.drawing).toBeGreaterThan(0.9)
    expect(judgeOutput(scores, 0)).toBeUndefined()
  })

  it('classifies concurrently without mixing answers up', async () => {
    const [strong, mid] = await Promise.all([scoresOf(fixture('grid-strong.png')), scoresOf(fixture('grid-mid.png'))])
    expect(strong.porn).toBeGreaterThan(mid.porn)
  })

  it('the thresholds loosen as the tolerance rises', () => {
    for (let t = 1; t < OUTPUT_THRESHOLDS.length; t++) {
      expect(OUTPUT_THRESHOLDS[t]!.explicit).toBeGreaterThan(OUTPUT_THRESHOLDS[t - 1]!.explicit)
    }
    const sexy = { drawing: 0, hentai: 0, neutral: 0.25, porn: 0, sexy: 0.75 }
    expect(tolerances.map((t) => judgeOutput(sexy, t) !== undefined)).toEqual([
      true,
      true,
      false,
      false,
      false,
      false,
      false,
    ])
  })
})

describe('which outputs the classifier sees', () => {
  it("skips the preview engine's own renders and cloud engines; classifies local engines and image prompts", () => {
    const guide = { imagePrompt: { data: Buffer.alloc(1), strength: 0.5 } }
    expect(outputCheckSkipped({ engine: 'preview', local: true }, {})).toBe('preview render')
    expect(outputCheckSkipped({ engine: 'preview', local: true }, guide)).toBeUndefined()
    expect(outputCheckSkipped({ engine: 'comfyui', local: true }, {})).toBeUndefined()
    expect(outputCheckSkipped({ engine: 'sdcpp', local: true }, {})).toBeUndefined()
    expect(outputCheckSkipped({ engine: 'bfl', local: false }, {})).toBe('cloud engine')
  })
})

describe('prompt blocklist', () => {
  const policy = createPromptPolicy(DEFAULT_BLOCKLIST)

  it('blocks more at stricter tolerances, whole words only', () => {
    expect(tolerances.map((t) => policy.check('a nude statue in a museum', t))).toEqual([
      'nude',
      'nude',
      'nude',
      'nude',
      undefined,
      undefined,
      undefined,
    ])
    expect(tolerances.map((t) => policy.check('PORN poster', t) !== undefined)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      false,
    ])
    expect(tolerances.map((t) => policy.check('a beach in a bikini', t) !== undefined)).toEqual([
      true,
      false,
      false,
      false,
      false,
      false,
      false,
    ])
    expect(policy.check('loli art', 6)).toBe('loli')
    for (const fine of [
      'a sextant on a chart',
      'Essex countryside',
      'a therapist office',
      'expressionism',
      'nudelman street',
    ]) {
      expect(policy.check(fine, 0), fine).toBeUndefined()
    }
    expect(policy.check('underage   sex', 6)).toBe('underage   sex')
  })

  it('reads a blocklist file and reports bad lines', () => {
    const custom = createPromptPolicy(parseBlocklist('# ours\nclown\nspider = 2\n'))
    expect(custom.check('a sad clown', 6)).toBe('clown')
    expect(custom.check('a spider', 2)).toBe('spider')
    expect(custom.check('a spider', 3)).toBeUndefined()
    expect(custom.check('a nude statue', 0)).toBeUndefined()
    expect(() => parseBlocklist('ok\nbad = 9\n')).toThrow(/line 2/)
    expect(() => parseBlocklist('a = b = c')).toThrow(/line 1/)
  })
})
