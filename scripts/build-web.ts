// Builds the web pages (src/web/public) into dist/public: each page's scripts bundled into one
// file and its style sheets into one, minified, named by their content's hash (served
// `immutable`: a new version is a new name), the HTML rewritten to those names, and every text
// file stored beside its brotli and gzip forms (served as they are: no compression per request).
// Runs at `npm run build` (so at install, through `prepare`) and before the tests.
//
//   node --import tsx scripts/build-web.ts [outDir]
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'
import * as esbuild from 'esbuild'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SOURCE = path.join(REPO, 'src/web/public')

/** The pages: their HTML, and the one script each loads (what it imports comes along). */
const PAGES = [
  { html: 'index.html', script: 'app.js' },
  { html: 'admin.html', script: 'admin.js' },
]

/** Builds into `outDir` (default dist/public); returns each page's assets (the names its HTML points at). */
export async function buildWeb(outDir = path.join(REPO, 'dist/public')): Promise<Record<string, string[]>> {
  const staging = `${outDir}.${process.pid}.tmp`
  fs.rmSync(staging, { recursive: true, force: true })
  fs.mkdirSync(staging, { recursive: true })
  const assets: Record<string, string[]> = {}
  for (const page of PAGES) {
    const html = fs.readFileSync(path.join(SOURCE, page.html), 'utf8')
    // The style sheets the page links, in its order, become one sheet.
    const sheets = [...html.matchAll(/<link rel="stylesheet" href="\/web\/([\w-]+\.css)">/g)].map((m) => m[1])
    const base = page.html.replace(/\.html$/, '')
    const entry = `/* the style sheets of ${page.html} */\n${sheets.map((s) => `@import "./${s}";`).join('\n')}\n`
    const result = await esbuild.build({
      entryPoints: { [base]: path.join(SOURCE, page.script) },
      bundle: true,
      minify: true,
      format: 'esm',
      target: 'es2022',
      // Components are Preact (TSX); tsconfig.web.json type-checks them with the same settings.
      jsx: 'automatic',
      jsxImportSource: 'preact',
      sourcemap: 'linked',
      entryNames: '[name]-[hash]',
      outdir: staging,
      metafile: true,
      logLevel: 'silent',
    })
    const css = await esbuild.build({
      stdin: { contents: entry, resolveDir: SOURCE, sourcefile: `${base}.bundle.css`, loader: 'css' },
      bundle: true,
      minify: true,
      write: false,
      logLevel: 'silent',
    })
    const cssText = css.outputFiles[0]!.contents
    const cssName = `${base}-${contentHash(cssText)}.css`
    fs.writeFileSync(path.join(staging, cssName), cssText)
    const jsName = Object.keys(result.metafile.outputs)
      .map((file) => path.basename(file))
      .find((file) => file.endsWith('.js'))!
    assets[page.html] = [jsName, cssName]
    let out = html.replace(
      /(<link rel="stylesheet" href="\/web\/[\w-]+\.css">\s*)+/,
      `<link rel="stylesheet" href="/web/${cssName}">\n  `,
    )
    out = out.replace(`src="/web/${page.script}"`, `src="/web/${jsName}"`)
    if (/(href|src)="\/web\/(?![\w-]+-[A-Z0-9]{8}\.(js|css)")/.test(out))
      throw new Error(`${page.html} points at an asset the build does not make`)
    fs.writeFileSync(path.join(staging, page.html), out)
  }
  for (const file of fs.readdirSync(staging)) {
    if (!/\.(html|js|css|map)$/.test(file)) continue
    const data = fs.readFileSync(path.join(staging, file))
    fs.writeFileSync(
      path.join(staging, `${file}.br`),
      zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }),
    )
    fs.writeFileSync(path.join(staging, `${file}.gz`), zlib.gzipSync(data, { level: 9 }))
  }
  // Replaced whole. Not atomic: a server serving this folder while it is rebuilt (npm run build
  // beside a running server) answers 404 for a moment, and pages open before it name old files.
  fs.rmSync(outDir, { recursive: true, force: true })
  fs.renameSync(staging, outDir)
  return assets
}

/** A content hash in esbuild's style (8 characters of base32) for the files built without it. */
function contentHash(data: Uint8Array): string {
  const digest = createHash('sha256').update(data).digest()
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let out = ''
  for (let i = 0; i < 8; i++) out += alphabet[digest[i]! % 32]
  return out
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const assets = await buildWeb(process.argv[2] ? path.resolve(process.argv[2]) : undefined)
  for (const [page, files] of Object.entries(assets)) console.log(`${page}: ${files.join(', ')}`)
}
