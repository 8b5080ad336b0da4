// How test/fixtures/safety/*.png were made (run from the repository root; ~2 minutes):
//   node scripts/make-safety-fixtures.mjs
// The safety tests need images the output classifier reads as explicit, and shipping real
// explicit images is not an option. So this searches for abstract ones: a 16×16 grid of
// skin-toned colours, upscaled to 256×256, changed a block at a time and kept whenever
// nsfwjs's porn + hentai (+ half of sexy) score rises (hill-climbing on the model's own
// output). The result is coloured blobs that MobileNetV2 scores ≈0.98 "porn"; blended
// halfway towards a flat colour it scores ≈0.6. The committed fixtures came from an earlier
// run of this search (stopped and resumed once), so a new run gives similar, not identical,
// images; check the scores it prints against the thresholds the tests rely on.
import fs from 'node:fs'
import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
import { load } from 'nsfwjs'
import sharp from 'sharp'

const S = 256
const G = 16
const OUT = 'test/fixtures/safety'
fs.mkdirSync(OUT, { recursive: true })

await tf.setBackend('wasm')
await tf.ready()
const model = await load('MobileNetV2')

function rng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const render = (grid) =>
  sharp(Buffer.from(Uint8ClampedArray.from(grid)), { raw: { width: G, height: G, channels: 3 } }).resize(S, S, {
    kernel: 'cubic',
  })

async function scores(grid) {
  const pixels = await render(grid).raw().toBuffer()
  const tensor = tf.tensor3d(new Int32Array(pixels), [S, S, 3], 'int32')
  const predictions = await model.classify(tensor, 5)
  tensor.dispose()
  return Object.fromEntries(predictions.map((p) => [p.className.toLowerCase(), p.probability]))
}
const objective = (s) => s.porn + s.hentai + s.sexy * 0.5

const random = rng(11)
const grid = new Float32Array(G * G * 3)
for (let i = 0; i < G * G; i++) {
  grid[i * 3] = 215 + random() * 30
  grid[i * 3 + 1] = 160 + random() * 30
  grid[i * 3 + 2] = 130 + random() * 30
}
let best = await scores(grid)
for (let iteration = 0; iteration < 3000 && best.porn < 0.98; iteration++) {
  const candidate = Float32Array.from(grid)
  const bx = Math.floor(random() * G)
  const by = Math.floor(random() * G)
  const size = 1 + Math.floor(random() * 4)
  const delta = [random() * 2 - 1, random() * 2 - 1, random() * 2 - 1].map((v) => v * 40)
  for (let y = by; y < Math.min(G, by + size); y++)
    for (let x = bx; x < Math.min(G, bx + size); x++)
      for (let c = 0; c < 3; c++)
        candidate[(y * G + x) * 3 + c] = Math.max(0, Math.min(255, candidate[(y * G + x) * 3 + c] + delta[c]))
  const tried = await scores(candidate)
  if (objective(tried) > objective(best)) {
    best = tried
    grid.set(candidate)
  }
  if (iteration % 100 === 0) console.log(iteration, JSON.stringify(best))
}
const flat = Array.from(grid, (_, i) => [200, 160, 140][i % 3])
const halfway = Array.from(grid, (v, i) => flat[i] + (v - flat[i]) * 0.5)
await render(grid).png().toFile(`${OUT}/grid-strong.png`)
await render(halfway).png().toFile(`${OUT}/grid-mid.png`)
console.log('strong', JSON.stringify(best), 'mid', JSON.stringify(await scores(halfway)))
