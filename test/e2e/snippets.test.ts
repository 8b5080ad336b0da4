import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, type ExpectStatic, expect, it } from 'vitest'
import type { Job } from '../../src/domain/job.js'
import { KEY_A, startTestServer, type TestServer, tempDir } from '../helpers/server.js'

// The playground's code samples (src/web/public/snippets.ts, browser TypeScript with no DOM): each
// script is written to a file and run as a user would (bash, python3, node) against a real
// server, and its last line must be an image URL that answers. The request-body view is sent
// as it is shown (its path, its key header with the key put in, its JSON).

type Dialect = 'bfl' | 'seaart' | 'apiframe' | 'aiml'
type Language = 'curl' | 'python' | 'js'
interface Settings {
  model: 'flux-pro-1.1' | 'flux-pro-1.1-ultra' | 'flux-dev'
  prompt: string
  width: number
  height: number
  aspectRatio: string
  seed: number | null
  outputFormat: 'jpeg' | 'png' | 'webp'
  quality: number
  numImages: number
  safetyTolerance: number
  promptUpsampling: boolean
  steps?: number | null
  guidance?: number | null
  imagePrompt: { url: string; strength: number } | null
}
interface SnippetsModule {
  DIALECTS: Dialect[]
  snippets(settings: Settings, target: { baseUrl: string }): Record<Dialect, Record<Language | 'body', string>>
  unsupported(settings: Settings, dialect: Dialect): string | null
}

const here = path.dirname(fileURLToPath(import.meta.url))
const LANGUAGES: Language[] = ['curl', 'python', 'js']
const RUNNERS: Record<Language, { file: string; command: string }> = {
  curl: { file: 'snippet.sh', command: 'bash' },
  python: { file: 'snippet.py', command: 'python3' },
  js: { file: 'snippet.mjs', command: 'node' },
}
const DEFAULTS: Settings = {
  model: 'flux-pro-1.1',
  prompt: 'A clean product photo of a red apple on a white table, soft studio lighting.',
  width: 1024,
  height: 768,
  aspectRatio: '16:9',
  seed: null,
  outputFormat: 'jpeg',
  quality: 90,
  numImages: 1,
  safetyTolerance: 2,
  promptUpsampling: false,
  imagePrompt: null,
}
const TRICKY =
  `She said "don't" — it's $HOME's \`id\` $(echo no) \\n \\ '\\'' %s {x} \${y}\n` +
  `second line\ttab: café 東京 🍎 👨‍👩‍👧 \u2028 end`

let mod: SnippetsModule
let server: TestServer
let imageServer: http.Server
let imageUrl: string
let png: Buffer
let workDir: string
let pythonSkip: string | null = null

beforeAll(async () => {
  mod = (await import(pathToFileURL(path.resolve(here, '../../src/web/public/snippets.ts')).href)) as SnippetsModule
  // Apiframe's image_prompt is fetched by the server, from this test's loopback image server.
  server = await startTestServer({ FLUXHOST_ALLOW_PRIVATE_URLS: '1', FLUXHOST_WORKER_CONCURRENCY: '4' })
  png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3070c0' } })
    .png()
    .toBuffer()
  imageServer = http.createServer((req, res) => {
    if (req.url === '/input.png')
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => imageServer.listen(0, '127.0.0.1', resolve))
  imageUrl = `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}/input.png`
  workDir = tempDir('fluxhost-snippets-')
  const probe = spawnSync('python3', ['-c', 'import requests'], { encoding: 'utf8' })
  if (probe.status !== 0)
    pythonSkip =
      `python3 with requests is missing (${(probe.stderr || String(probe.error)).trim().split('\n').pop()}); ` +
      'the Python snippets are not run'
  if (pythonSkip) console.warn(pythonSkip)
})

afterAll(async () => {
  await server?.close()
  await new Promise((resolve) => imageServer?.close(resolve))
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true })
})

/** At most twelve snippets run at once: each is a process, mostly waiting on the server. */
const pool = (() => {
  let active = 0
  const waiting: (() => void)[] = []
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= 12) await new Promise<void>((resolve) => waiting.push(resolve))
    active++
    try {
      return await task()
    } finally {
      active--
      waiting.shift()?.()
    }
  }
})()

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

let runs = 0
function runSnippet(language: Language, source: string): Promise<Run> {
  return pool(async () => {
    const dir = path.join(workDir, String(runs++))
    fs.mkdirSync(dir)
    const file = path.join(dir, RUNNERS[language].file)
    fs.writeFileSync(file, source)
    return new Promise<Run>((resolve, reject) => {
      // The key as a user sets it: the snippets read it from the environment, never hold it.
      const child = spawn(RUNNERS[language].command, [file], {
        cwd: dir,
        env: { ...process.env, FLUXHOST_KEY: KEY_A },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })
  })
}

/** The job behind a signed file URL (`/files/jobs/<id>/a1/0.jpeg?...`). */
async function jobOf(expect: ExpectStatic, url: string): Promise<Job> {
  const id = /\/files\/jobs\/([^/]+)\//.exec(new URL(url).pathname)?.[1]
  expect(id, url).toBeTruthy()
  return server.fluxhost.services.jobs.get(id!, undefined)
}

/**
 * Runs every snippet of `settings` (every dialect: one that cannot express a setting must
 * still send a body the server takes) and checks the image each prints and the job behind it.
 */
async function runAll(
  expect: ExpectStatic,
  settings: Settings,
  check: (job: Job, dialect: Dialect, supported: boolean) => void,
): Promise<void> {
  const all = mod.snippets(settings, { baseUrl: server.url })
  const jobs = mod.DIALECTS.flatMap((dialect) =>
    LANGUAGES.filter((language) => language !== 'python' || !pythonSkip).map(async (language) => {
      const run = await runSnippet(language, all[dialect][language])
      const label =
        `${dialect} ${language}\n--- stderr:\n${run.stderr}\n--- stdout:\n${run.stdout}\n` +
        `--- snippet:\n${all[dialect][language]}`
      expect(run.code, label).toBe(0)
      const last = run.stdout.trimEnd().split('\n').pop() ?? ''
      expect(last, label).toMatch(/^https?:\/\/\S+$/)
      const image = await fetch(last)
      expect(image.status, label).toBe(200)
      expect(image.headers.get('content-type'), label).toMatch(/^image\//)
      expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0)
      const job = await jobOf(expect, last)
      expect(job.dialect).toBe(dialect)
      expect(job.state).toBe('succeeded')
      check(job, dialect, mod.unsupported(settings, dialect) === null)
    }),
  )
  await Promise.all(jobs)
}

/** Runs BFL's snippet of `settings` in every language; the jobs they made. */
async function runBfl(expect: ExpectStatic, settings: Settings): Promise<Job[]> {
  const bfl = mod.snippets(settings, { baseUrl: server.url }).bfl
  return Promise.all(
    LANGUAGES.filter((language) => language !== 'python' || !pythonSkip).map(async (language) => {
      const run = await runSnippet(language, bfl[language])
      expect(run.code, `${language}: ${run.stderr}`).toBe(0)
      return jobOf(expect, run.stdout.trimEnd().split('\n').pop()!)
    }),
  )
}

/**
 * Sends the request-body view as it is shown: its method and path, its headers (the key put in
 * where it names $FLUXHOST_KEY) and its JSON. The job the server made of it.
 */
async function sendShown(expect: ExpectStatic, dialect: Dialect, shown: string): Promise<Job> {
  const blank = shown.indexOf('\n\n')
  expect(blank, shown).toBeGreaterThan(0)
  const [requestLine = '', ...headerLines] = shown.slice(0, blank).split('\n')
  const [method, route] = requestLine.split(' ')
  expect(method).toBe('POST')
  const headers = Object.fromEntries(
    headerLines.map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
  )
  const auth = Object.values(headers).find((value) => value.includes('$FLUXHOST_KEY'))
  expect(auth, shown).toBeDefined()
  for (const [name, value] of Object.entries(headers)) headers[name] = value.replace('$FLUXHOST_KEY', KEY_A)
  const json = shown.slice(blank + 2)
  // Pretty-printed as JSON.stringify(body, null, 2) prints it, but for invisible characters in
  // strings: escaped (JSON.stringify's own newlines are the layout's).
  const escaped = (text: string) =>
    text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) =>
      c === '\n' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    )
  expect(json).toBe(`${escaped(JSON.stringify(JSON.parse(json), null, 2))}\n`)
  const response = await fetch(`${server.url}${route}`, { method, headers, body: json })
  const answer = (await response.json()) as Record<string, any>
  expect(response.status, `${dialect}: ${JSON.stringify(answer)}`).toBeLessThan(300)
  if (dialect === 'aiml') return jobOf(expect, answer.images[0].url)
  const id = answer.id ?? answer.request_id ?? answer.jobId
  expect(typeof id, JSON.stringify(answer)).toBe('string')
  return server.fluxhost.services.jobs.get(id, undefined)
}

// The tests run at once and share one pool of twelve processes, so each one's clock includes
// waiting for the others' snippets: on two busy cores (the chaos test beside it) the file has
// taken 60 s. Hence a timeout for the whole queue, not for one test's own work.
describe('playground snippets', { timeout: 240_000 }, () => {
  it('exports the four dialects and a reason for each setting a dialect cannot express', () => {
    expect(mod.DIALECTS).toEqual(['bfl', 'seaart', 'apiframe', 'aiml'])
    for (const dialect of mod.DIALECTS) expect(mod.unsupported(DEFAULTS, dialect), dialect).toBeNull()
    const ultra = { ...DEFAULTS, model: 'flux-pro-1.1-ultra' as const }
    expect(mod.unsupported(ultra, 'bfl')).toBeNull()
    for (const dialect of ['seaart', 'apiframe', 'aiml'] as const)
      expect(mod.unsupported(ultra, dialect)).toMatch(/FLUX 1.1 \[pro\] only/)
    expect(mod.unsupported({ ...DEFAULTS, model: 'flux-dev' }, 'aiml')).toMatch(/FLUX 1.1 \[pro\] only/)
    expect(mod.unsupported({ ...DEFAULTS, numImages: 3 }, 'bfl')).toMatch(/num_images/)
    expect(mod.unsupported({ ...DEFAULTS, numImages: 3 }, 'seaart')).toMatch(/num_images/)
    expect(mod.unsupported({ ...DEFAULTS, numImages: 3 }, 'aiml')).toBeNull()
    expect(mod.unsupported({ ...DEFAULTS, outputFormat: 'webp' }, 'seaart')).toMatch(/webp/)
    expect(mod.unsupported({ ...DEFAULTS, outputFormat: 'webp' }, 'aiml')).toMatch(/webp/)
    expect(mod.unsupported({ ...DEFAULTS, outputFormat: 'webp' }, 'bfl')).toBeNull()
    expect(mod.unsupported({ ...DEFAULTS, quality: 70 }, 'bfl')).toMatch(/quality/)
    expect(mod.unsupported({ ...DEFAULTS, quality: 70 }, 'apiframe')).toBeNull()
    expect(mod.unsupported({ ...DEFAULTS, quality: 70, outputFormat: 'png' }, 'bfl')).toBeNull()
    expect(mod.unsupported({ ...DEFAULTS, safetyTolerance: 5 }, 'apiframe')).toMatch(/safety_tolerance/)
    expect(mod.unsupported({ ...DEFAULTS, safetyTolerance: 0 }, 'aiml')).toMatch(/safety_tolerance/)
    expect(mod.unsupported({ ...DEFAULTS, seed: 0 }, 'aiml')).toMatch(/seed/)
    const withImage = { ...DEFAULTS, imagePrompt: { url: 'https://example.com/a.png', strength: 0.5 } }
    expect(mod.unsupported(withImage, 'aiml')).toMatch(/image prompt/)
    expect(
      mod.unsupported({ ...withImage, imagePrompt: { url: 'https://example.com/a.png', strength: 0.3 } }, 'bfl'),
    ).toMatch(/image_prompt_strength/)
    expect(
      mod.unsupported(
        { ...withImage, model: 'flux-pro-1.1-ultra', imagePrompt: { url: 'https://example.com/a.png', strength: 0.3 } },
        'bfl',
      ),
    ).toBeNull()
    expect(
      mod.unsupported({ ...withImage, imagePrompt: { url: 'https://example.com/a.png', strength: 0.33 } }, 'apiframe'),
    ).toMatch(/0\.05/)
    expect(
      mod.unsupported(
        { ...withImage, imagePrompt: { url: 'data:image/png;base64,iVBORw0KGgo=', strength: 0.5 } },
        'apiframe',
      ),
    ).toMatch(/data: URL/)
    expect(mod.unsupported({ ...DEFAULTS, prompt: '' }, 'seaart')).toMatch(/needs a prompt/)
    expect(mod.unsupported({ ...DEFAULTS, prompt: '' }, 'bfl')).toBeNull()
    expect(mod.unsupported({ ...DEFAULTS, prompt: 'x'.repeat(4001) }, 'aiml')).toMatch(/4000/)
    // Left out of the body, and the snippet says so in a comment.
    const webp = mod.snippets({ ...DEFAULTS, outputFormat: 'webp', numImages: 2 }, { baseUrl: 'http://h' })
    expect(webp.seaart.python).toContain('"output_format": "jpeg"')
    expect(webp.seaart.curl.split('BODY=')[1]).not.toContain('num_images')
    expect(webp.seaart.js).toMatch(/^\/\/ Not expressible in this dialect .*webp/m)
    expect(webp.aiml.js).toContain('num_images: 2')
  })

  it.concurrent('runs the defaults in every dialect and language', async ({ expect }) => {
    await runAll(expect, DEFAULTS, (job) => {
      expect(job.request).toMatchObject({
        model: 'flux-pro-1.1',
        prompt: DEFAULTS.prompt,
        width: 1024,
        height: 768,
        numImages: 1,
        safetyTolerance: 2,
      })
      expect(job.request.output.format).toBe('jpeg')
    })
  })

  it.concurrent(
    'quotes a prompt with quotes, an apostrophe, newlines, $, backslashes ' + 'and non-ASCII in every language',
    async ({ expect }) => {
      const settings = { ...DEFAULTS, prompt: TRICKY, width: 256, height: 256, seed: 7 }
      await runAll(expect, settings, (job) => {
        expect(job.request.prompt).toBe(TRICKY)
        expect(job.request.seed).toBe(7)
      })
    },
  )

  it.concurrent('asks for two PNGs where the dialect can (AIML), and one elsewhere', async ({ expect }) => {
    const settings = {
      ...DEFAULTS,
      outputFormat: 'png' as const,
      numImages: 2,
      width: 512,
      height: 384,
      seed: 11,
      safetyTolerance: 3,
    }
    expect(mod.unsupported(settings, 'aiml')).toBeNull()
    expect(mod.unsupported(settings, 'seaart')).toMatch(/num_images/)
    await runAll(expect, settings, (job, dialect, supported) => {
      expect(job.request.output.format).toBe('png')
      expect(job.result!.images[0]!.contentType).toBe('image/png')
      expect(job.request).toMatchObject({ width: 512, height: 384, seed: 11 })
      expect(job.request.safetyTolerance).toBe(dialect === 'apiframe' ? 2 : 3)
      expect(job.request.numImages).toBe(supported ? 2 : 1)
      expect(job.result!.images).toHaveLength(supported ? 2 : 1)
    })
  })

  it.concurrent('makes an ultra image at an aspect ratio on BFL (the gateways fall back to FLUX 1.1 [pro])', async ({
    expect,
  }) => {
    const settings = {
      ...DEFAULTS,
      model: 'flux-pro-1.1-ultra' as const,
      aspectRatio: '21:9',
      width: 256,
      height: 256,
      seed: 3,
      outputFormat: 'webp' as const,
    }
    await runAll(expect, settings, (job, dialect) => {
      if (dialect === 'bfl') {
        expect(job.request).toMatchObject({
          model: 'flux-pro-1.1-ultra',
          aspectRatio: '21:9',
          width: 3136,
          height: 1344,
          seed: 3,
        })
        expect(job.request.output.format).toBe('webp')
      } else {
        expect(job.request).toMatchObject({ model: 'flux-pro-1.1', width: 256, height: 256 })
      }
    })
  })

  it.concurrent("sends flux-dev's steps and guidance on BFL", async ({ expect }) => {
    const settings = { ...DEFAULTS, model: 'flux-dev' as const, width: 256, height: 256, steps: 12, guidance: 4.5 }
    expect(mod.unsupported(settings, 'bfl')).toBeNull()
    expect(mod.unsupported({ ...settings, steps: 51 }, 'bfl')).toMatch(/steps must be an integer 1–50/)
    expect(mod.unsupported({ ...settings, guidance: 1 }, 'bfl')).toMatch(/guidance must be 1\.5–5/)
    // Steps of another model are not sent: only flux-dev takes them.
    expect(mod.snippets({ ...settings, model: 'flux-pro-1.1' }, { baseUrl: 'http://h' }).bfl.python).not.toContain(
      'steps',
    )
    // BFL only: the gateways' fallback to FLUX 1.1 [pro] is what the tests above run.
    for (const job of await runBfl(expect, settings))
      expect(job.request).toMatchObject({ model: 'flux-dev', width: 256, height: 256, steps: 12, guidance: 4.5 })
  })

  it.concurrent(
    'sends an image prompt given as a URL ' +
      '(downloaded and encoded for BFL and SeaArt, fetched by the server for Apiframe)',
    async ({ expect }) => {
      const settings = { ...DEFAULTS, width: 256, height: 320, imagePrompt: { url: imageUrl, strength: 0.5 } }
      expect(mod.unsupported(settings, 'apiframe')).toBeNull()
      await runAll(expect, settings, (job, dialect) => {
        if (dialect === 'aiml') expect(job.request.imagePrompt).toBeUndefined()
        else expect(job.request.imagePrompt).toMatchObject({ strength: 0.5 })
      })
      const ultra = {
        ...settings,
        model: 'flux-pro-1.1-ultra' as const,
        aspectRatio: '1:1',
        imagePrompt: { url: imageUrl, strength: 0.3 },
      }
      expect(mod.unsupported(ultra, 'bfl')).toBeNull()
      for (const job of await runBfl(expect, ultra))
        expect(job.request).toMatchObject({
          model: 'flux-pro-1.1-ultra',
          aspectRatio: '1:1',
          imagePrompt: { strength: 0.3 },
        })
      // A data: URL (a file the user picked) goes into BFL's and SeaArt's base64 field as it is.
      const inline = {
        ...settings,
        imagePrompt: { url: `data:image/png;base64,${png.toString('base64')}`, strength: 0.5 },
      }
      const both = mod.snippets(inline, { baseUrl: server.url })
      await Promise.all(
        (['bfl', 'seaart'] as const).map(async (dialect) => {
          expect(mod.unsupported(inline, dialect)).toBeNull()
          const run = await runSnippet('curl', both[dialect].curl)
          expect(run.code, run.stderr).toBe(0)
          const job = await jobOf(expect, run.stdout.trimEnd().split('\n').pop()!)
          expect(job.request.imagePrompt).toMatchObject({ strength: 0.5 })
        }),
      )
    },
  )

  it.concurrent(
    'leaves out what a dialect cannot say (webp, quality, seed 0, safety 0) ' + 'and the server takes the rest',
    async ({ expect }) => {
      const settings = {
        ...DEFAULTS,
        outputFormat: 'webp' as const,
        quality: 75,
        seed: 0,
        safetyTolerance: 0,
        width: 320,
        height: 256,
      }
      expect(mod.unsupported(settings, 'apiframe')).toMatch(/safety_tolerance/)
      expect(mod.unsupported(settings, 'aiml')).toMatch(/webp.*seed|seed.*webp/)
      await runAll(expect, settings, (job, dialect) => {
        expect(job.request.output.format).toBe(dialect === 'bfl' || dialect === 'apiframe' ? 'webp' : 'jpeg')
        expect(job.request.output.quality).toBe(dialect === 'apiframe' ? 75 : 90)
        if (dialect !== 'aiml') expect(job.request.seed).toBe(0)
        expect(job.request.safetyTolerance).toBe(dialect === 'bfl' || dialect === 'seaart' ? 0 : 2)
      })
    },
  )
  it.concurrent('sends prompt upsampling where the dialect has the field (all but AIML)', async ({ expect }) => {
    const settings = { ...DEFAULTS, width: 256, height: 256, promptUpsampling: true }
    for (const dialect of ['bfl', 'seaart', 'apiframe'] as const)
      expect(mod.unsupported(settings, dialect), dialect).toBeNull()
    expect(mod.unsupported(settings, 'aiml')).toMatch(/prompt_upsampling/)
    const shown = mod.snippets(settings, { baseUrl: 'http://h' })
    expect(shown.bfl.python).toContain('"prompt_upsampling": True')
    expect(shown.seaart.curl).toContain('"prompt_upsampling": true')
    expect(shown.apiframe.js).toContain('prompt_upsampling: true')
    expect(shown.aiml.body).not.toContain('upsampling')
    // Off, it is not sent at all (the servers' default is off).
    const off = mod.snippets(DEFAULTS, { baseUrl: 'http://h' })
    for (const dialect of mod.DIALECTS) expect(off[dialect].body, dialect).not.toContain('upsampling')
    await runAll(expect, settings, (job, dialect, supported) => {
      expect(supported).toBe(dialect !== 'aiml')
      expect(job.request.promptUpsampling, dialect).toBe(supported)
    })
    // BFL's ultra body takes it too.
    const ultra = { ...settings, model: 'flux-pro-1.1-ultra' as const, aspectRatio: '1:1' }
    expect(mod.unsupported(ultra, 'bfl')).toBeNull()
    for (const job of await runBfl(expect, ultra))
      expect(job.request).toMatchObject({ model: 'flux-pro-1.1-ultra', promptUpsampling: true })
  })

  it.concurrent('shows the request body as HTTP that the server takes as shown, without the key', async ({
    expect,
  }) => {
    const settings = { ...DEFAULTS, prompt: TRICKY, width: 256, height: 320, seed: 5, promptUpsampling: true }
    const all = mod.snippets(settings, { baseUrl: server.url })
    expect(all.bfl.body.split('\n').slice(0, 3)).toEqual([
      'POST /v1/flux-pro-1.1',
      'x-key: $FLUXHOST_KEY',
      'Content-Type: application/json',
    ])
    expect(all.seaart.body).toContain('Authorization: Bearer $FLUXHOST_KEY')
    await Promise.all(
      mod.DIALECTS.map(async (dialect) => {
        expect(all[dialect].body).not.toContain(KEY_A)
        const job = await sendShown(expect, dialect, all[dialect].body)
        expect(job.dialect).toBe(dialect)
        expect(job.request).toMatchObject({ prompt: TRICKY, width: 256, height: 320, seed: 5 })
        expect(job.request.promptUpsampling).toBe(dialect !== 'aiml')
      }),
    )
    // An image the snippets download stands as a placeholder; a data: URL is in the body as it is.
    const image = { ...DEFAULTS, imagePrompt: { url: 'https://example.com/a.png', strength: 0.5 } }
    expect(mod.snippets(image, { baseUrl: 'http://h' }).bfl.body).toContain(
      '"image_prompt": "<the image, base64-encoded>"',
    )
    const inline = {
      ...DEFAULTS,
      imagePrompt: { url: `data:image/png;base64,${png.toString('base64')}`, strength: 0.5 },
    }
    const job = await sendShown(expect, 'seaart', mod.snippets(inline, { baseUrl: 'http://h' }).seaart.body)
    expect(job.request.imagePrompt).toMatchObject({ strength: 0.5 })
  })
})
