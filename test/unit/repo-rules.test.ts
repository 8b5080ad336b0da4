import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '../..')
const MIGRATIONS = path.join(ROOT, 'src/store/migrations')
const MAX_LINE = 120
const MAX_FILE_LINES = 300

/** Every file under `dir` (relative to the repository) whose name matches `pattern`. */
function files(dir: string, pattern: RegExp): string[] {
  const out: string[] = []
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, at), { withFileTypes: true })) {
      const rel = path.join(at, entry.name)
      if (entry.isDirectory()) walk(rel)
      else if (pattern.test(entry.name)) out.push(rel)
    }
  }
  walk(dir)
  return out.sort()
}

/** A shipped migration is frozen: its bytes are whatever ran on databases out there. */
const isShippedMigration = (file: string) => /^src\/store\/migrations\/\d{4}_.*\.ts$/.test(file)

// Rules that keep the tree the shape docs/architecture.md describes. Biome formats and lints
// (`npm run lint`), dependency-cruiser checks the layer order; these are the rest.
describe('repository rules', () => {
  it('never edits a shipped migration: each matches its checksum in SHIPPED.sha256, and each is listed', () => {
    const listed = new Map(
      fs
        .readFileSync(path.join(MIGRATIONS, 'SHIPPED.sha256'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/) as [string, string])
        .map(([sum, name]) => [name, sum]),
    )
    const present = fs.readdirSync(MIGRATIONS).filter((name) => /^\d{4}_.*\.ts$/.test(name))
    for (const name of present) {
      const sum = createHash('sha256')
        .update(fs.readFileSync(path.join(MIGRATIONS, name)))
        .digest('hex')
      expect(
        listed.get(name),
        `${name}: add a new migration instead of editing this one (or, for a new one, list it)`,
      ).toBe(sum)
    }
    expect(
      [...listed.keys()].filter((name) => !present.includes(name)),
      'listed but missing',
    ).toEqual([])
  })

  it(`keeps every source line within ${MAX_LINE} characters (shipped migrations are frozen as they are)`, () => {
    const long: string[] = []
    for (const dir of ['src', 'test', 'bench', 'scripts']) {
      for (const file of files(dir, /\.(ts|tsx|js|mjs|css)$/)) {
        if (isShippedMigration(file)) continue
        fs.readFileSync(path.join(ROOT, file), 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (line.length > MAX_LINE) long.push(`${file}:${i + 1} (${line.length})`)
          })
      }
    }
    expect(long).toEqual([])
  })

  it(`keeps every file of src/ within ${MAX_FILE_LINES} lines`, () => {
    const big = files('src', /\.(ts|tsx|js|css)$/)
      .map((file) => ({ file, lines: fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n').length - 1 }))
      .filter(({ lines }) => lines > MAX_FILE_LINES)
      .map(({ file, lines }) => `${file} (${lines})`)
    expect(big).toEqual([])
  })
})
