// Refreshes the README's screenshot (docs/img/playground.jpg) from the one the browser tests
// take of the playground after a generation (test/e2e/playground.test.ts writes
// test-artifacts/playground.png): run those tests, then this.
//
//   npx vitest run test/e2e/playground.test.ts && node --import tsx scripts/readme-screenshot.ts
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const from = path.join(REPO, 'test-artifacts/playground.png')
const to = path.join(REPO, 'docs/img/playground.jpg')
const info = await sharp(from).jpeg({ quality: 82, mozjpeg: true }).toFile(to)
console.log(`${path.relative(REPO, to)}: ${info.width}×${info.height}, ${Math.round(info.size / 1024)} KB`)
