// How often the output classifier flags the preview engine's own renders (issue 13, item 16).
// Renders BENCH_PREVIEW_N (10000) preview images of varied prompts, seeds and sizes, classifies
// each with the real classifier (nsfwjs in its worker threads, as the server runs it) and
// reports how many each safety_tolerance would flag, the highest score of each class and the
// renders that scored highest. Reports, never asserts. Deterministic: BENCH_PREVIEW_SEED (1)
// picks the same renders again.
//   nice -n 19 node --import tsx bench/preview-moderation.ts
import os from 'node:os'
import type { EngineTask } from '../src/engines/engine.js'
import { COLOUR_WORDS } from '../src/engines/preview/palette.js'
import { createPreviewEngine } from '../src/engines/preview/preview-engine.js'
import { prng } from '../src/engines/preview/render.js'
import { outputCheckSkipped } from '../src/safety/checker.js'
import { createNsfwClassifier, type NsfwScores } from '../src/safety/classifier.js'
import { judgeOutput, OUTPUT_THRESHOLDS } from '../src/safety/policy.js'

const N = Number(process.env.BENCH_PREVIEW_N ?? 10_000)
const THREADS = Number(process.env.BENCH_PREVIEW_THREADS ?? os.availableParallelism())
const DEFAULT_TOLERANCE = 2

const SUBJECTS = [
  'a lighthouse at dusk',
  'an abstract colour study',
  'a cat on a windowsill',
  'portrait of a woman',
  'a man on a beach',
  'end to end',
  'test',
  'hello world',
  'integration test image',
  'a bowl of fruit',
  'skin texture close-up',
  'a mountain lake',
  'city street at night',
  'a quiet harbour',
  'product photo of a sneaker',
  'a dancer in motion',
  'soft gradient background',
  'a bedroom interior',
  'smoke test',
  'a red balloon',
]
const MODIFIERS = ['', 'photorealistic', 'watercolour', '35mm film', 'soft light', 'studio', 'minimal', 'cinematic']
const COLOURS = Object.keys(COLOUR_WORDS)
// Sizes a client asks for: the defaults of each dialect and a spread of others (multiples of 32).
const SIZES: readonly [number, number][] = [
  [1024, 768],
  [1024, 768],
  [1024, 1024],
  [512, 512],
  [768, 1024],
  [1344, 768],
  [256, 256],
  [1440, 1440],
  [640, 480],
  [832, 1216],
]

/** The i-th render: a prompt (subjects, colour words, or an arbitrary string), a seed and a size. */
function taskAt(random: () => number, i: number): EngineTask {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!
  const kind = random()
  let prompt: string
  if (kind < 0.4) prompt = `${pick(SUBJECTS)} ${pick(MODIFIERS)}`.trim()
  else if (kind < 0.7) prompt = `${pick(COLOURS)} ${pick(SUBJECTS)}`
  else if (kind < 0.85) prompt = `${pick(COLOURS)} and ${pick(COLOURS)} ${pick(SUBJECTS)} ${pick(COLOURS)}`
  else prompt = `job ${i} ${Math.floor(random() * 1e9).toString(36)}`
  const [width, height] = pick(SIZES)
  return {
    jobId: `bench-${i}`,
    model: 'flux-pro-1.1',
    prompt,
    width,
    height,
    seed: Math.floor(random() * 2 ** 32),
    numImages: 1,
    promptUpsampling: false,
    raw: false,
    safetyTolerance: DEFAULT_TOLERANCE,
    output: { format: 'jpeg', quality: 90 },
  }
}

const CLASSES = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'] as const
type Scored = { prompt: string; seed: number; size: string; scores: NsfwScores }

async function main() {
  const random = prng(Number(process.env.BENCH_PREVIEW_SEED ?? 1))
  const engine = createPreviewEngine({ steps: 1 })
  const classifier = createNsfwClassifier({ threads: THREADS })
  const started = performance.now()
  await classifier.ready()
  const loadMs = performance.now() - started

  const flaggedAt = Array.from({ length: 7 }, () => 0)
  let refusedAsServed = 0
  const flagged: (Scored & { why: string })[] = []
  const max = Object.fromEntries(CLASSES.map((c) => [c, { score: 0 } as { score: number; at?: Scored }]))
  const explicit: number[] = []
  const top: Scored[] = []
  const ctx = { signal: new AbortController().signal, progress: () => undefined }

  const one = async (task: EngineTask) => {
    const image = (await engine.generate(task, ctx)).images[0]!
    if (image.kind !== 'raw' || image.channels !== 3) throw new Error('preview renders packed RGB')
    const { ms: _ms, ...scores } = await classifier.classify(image)
    const at = { prompt: task.prompt, seed: task.seed, size: `${task.width}x${task.height}`, scores }
    for (let t = 0; t < 7; t++) if (judgeOutput(scores, t)) flaggedAt[t]!++
    const why = judgeOutput(scores, DEFAULT_TOLERANCE)
    if (why) flagged.push({ ...at, why })
    // What a worker would refuse: a flagged render that it passes to the classifier at all.
    if (why && !outputCheckSkipped({ engine: engine.name, local: engine.local }, task)) refusedAsServed++
    for (const c of CLASSES) if (scores[c] > max[c]!.score) max[c] = { score: scores[c], at }
    explicit.push(Math.max(scores.porn, scores.hentai))
    top.push(at)
    top.sort((a, b) => rank(b) - rank(a))
    top.length = Math.min(top.length, 10)
  }

  // Render on this thread while the classifier threads work: a few images in flight per thread.
  const inFlight = new Set<Promise<void>>()
  for (let i = 0; i < N; i++) {
    const running: Promise<void> = one(taskAt(random, i)).finally(() => inFlight.delete(running))
    inFlight.add(running)
    if (inFlight.size >= THREADS * 2) await Promise.race(inFlight)
    if ((i + 1) % 500 === 0) {
      const s = ((performance.now() - started) / 1000).toFixed(0)
      console.error(`${i + 1}/${N} rendered, ${s} s, flagged at ${DEFAULT_TOLERANCE}: ${flaggedAt[2]}`)
    }
  }
  await Promise.all(inFlight)
  await classifier.close()

  explicit.sort((a, b) => a - b)
  const pct = (p: number) => round(explicit[Math.min(explicit.length - 1, Math.floor((p / 100) * explicit.length))]!)
  console.log(
    JSON.stringify(
      {
        renders: N,
        threads: THREADS,
        cpus: os.availableParallelism(),
        loadMs: Math.round(loadMs),
        seconds: Math.round((performance.now() - started) / 100) / 10,
        flaggedAtDefaultTolerance: flagged.length,
        flaggedByTolerance: Object.fromEntries(flaggedAt.map((n, t) => [t, n])),
        refusedByWorkerAtDefaultTolerance: refusedAsServed,
        explicitPercentiles: { p50: pct(50), p99: pct(99), p999: pct(99.9), max: pct(100) },
        maxByClass: Object.fromEntries(CLASSES.map((c) => [c, { score: round(max[c]!.score), at: brief(max[c]!.at) }])),
        flagged: flagged.slice(0, 50).map((f) => ({ ...brief(f), why: f.why })),
        highest: top.map(brief),
      },
      null,
      2,
    ),
  )
}

/** How close a render comes to being flagged: its score over the threshold at the default tolerance. */
const rank = (s: Scored) => {
  const { explicit, suggestive } = OUTPUT_THRESHOLDS[DEFAULT_TOLERANCE]!
  return Math.max(Math.max(s.scores.porn, s.scores.hentai) / explicit, suggestive ? s.scores.sexy / suggestive : 0)
}
const round = (n: number) => Math.round(n * 10_000) / 10_000
const brief = (s: Scored | undefined) =>
  s && {
    prompt: s.prompt,
    seed: s.seed,
    size: s.size,
    scores: Object.fromEntries(CLASSES.map((c) => [c, round(s.scores[c])])),
  }

await main()
