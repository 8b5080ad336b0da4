import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, spawnCli, startServe } from '../helpers/child.js'
import { api, KEY_A, startTestServer, type TestServer, tempDir } from '../helpers/server.js'

let server: TestServer
let work: string
beforeAll(async () => {
  server = await startTestServer()
  work = tempDir('fluxhost-cli-')
})
afterAll(async () => {
  await server.close()
  fs.rmSync(work, { recursive: true, force: true })
})

const local = () => server.recordsEnv

// Tests here start up to eight CLI children from source, seconds each on two busy cores.
describe('fluxhost CLI', { timeout: 180_000 }, () => {
  it('prints help for every command and exits 0', async () => {
    const commands = [
      ['--help'],
      ['serve', '--help'],
      ['worker', '--help'],
      ['generate', '--help'],
      ['keys', '--help'],
      ['keys', 'create', '--help'],
      ['jobs', '--help'],
      ['jobs', 'list', '--help'],
    ]
    // Each child takes seconds to start from source: in parallel.
    const results = await Promise.all(commands.map((args) => runCli(args)))
    for (const [i, { code, stdout }] of results.entries()) {
      expect(code, commands[i]!.join(' ')).toBe(0)
      expect(stdout).toMatch(/Usage: fluxhost/)
    }
    const serveHelp = results[1]!
    expect(serveHelp.stdout).toContain('--worker-concurrency')
    expect(serveHelp.stdout).toContain('FLUXHOST_DATA_DIR')
  })

  it('rejects bad configuration with exit 2, naming the variable', async () => {
    const { code, stderr } = await runCli(['serve'], { FLUXHOST_PORT: 'http', FLUXHOST_DATA_DIR: work })
    expect(code).toBe(2)
    expect(stderr).toContain('FLUXHOST_PORT')
    const bad = await runCli(['generate', 'x', '--width', 'wide'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--width must be a whole number')
  })

  it('keys create prints a key that works; keys revoke stops it at once', async () => {
    const created = await runCli(['keys', 'create', '--name', 'ci-bot'], local())
    expect(created.code).toBe(0)
    const key = created.stdout.trim()
    expect(key).toMatch(/^fh_[A-Za-z0-9_-]{32}$/)
    expect((await api(`${server.url}/api/jobs`, { key })).status).toBe(200)
    // A CLI run without FLUXHOST_API_KEYS must not disable the server's static keys.
    expect((await api(`${server.url}/api/jobs`, { key: KEY_A })).status).toBe(200)

    const listed = await runCli(['keys', 'list', '--json'], local())
    const entry = (JSON.parse(listed.stdout) as { id: string; name: string; prefix: string }[]).find(
      (k) => k.name === 'ci-bot',
    )!
    expect(key.startsWith(entry.prefix)).toBe(true)
    expect(listed.stdout).not.toContain(key)

    const revoked = await runCli(['keys', 'revoke', entry.id], local())
    expect(revoked.code).toBe(0)
    expect((await api(`${server.url}/api/jobs`, { key })).status).toBe(401)
    expect((await runCli(['keys', 'revoke', 'key_nope'], local())).code).toBe(1)
  })

  it('keys revoke refuses the last active admin key, saying why (exit 1); with FLUXHOST_API_KEYS it goes', async () => {
    const created = await runCli(['keys', 'create', '--name', 'boss', '--admin'], local())
    expect(created.code, created.stderr).toBe(0)
    const id = /created admin key (\S+) /.exec(created.stderr)![1]!
    // This CLI run has no FLUXHOST_API_KEYS: boss is the only admin key it knows.
    const refused = await runCli(['keys', 'revoke', id], local())
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('LAST_ADMIN_KEY: "boss" is the last active admin key')
    expect(refused.stdout).toBe('')
    expect((await api(`${server.url}/api/me`, { key: created.stdout.trim() })).status).toBe(200)
    const revoked = await runCli(['keys', 'revoke', id], { ...local(), FLUXHOST_API_KEYS: KEY_A })
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(revoked.stdout.trim()).toBe(`revoked ${id} (boss); canceled 0 unfinished jobs of it`)
    expect((await api(`${server.url}/api/me`, { key: created.stdout.trim() })).status).toBe(401)
  })

  it('generate in-process writes a reproducible image of the asked size and format', async () => {
    const out = path.join(work, 'one.png')
    const again = path.join(work, 'again.png')
    const args = ['generate', 'a teal lighthouse', '--width', '256', '--height', '320', '--seed', '9']
    const first = await runCli([...args, '-o', out], { FLUXHOST_DATA_DIR: path.join(work, 'data') })
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout.trim()).toBe(out)
    expect(await sharp(out).metadata()).toMatchObject({ format: 'png', width: 256, height: 320 })
    await runCli([...args, '-o', again], { FLUXHOST_DATA_DIR: path.join(work, 'data') })
    expect(fs.readFileSync(out).equals(fs.readFileSync(again))).toBe(true)
  })

  it('generate writes one file per image and reports a failed job with exit 1', async () => {
    const out = path.join(work, 'many.jpg')
    const made = await runCli(
      ['generate', 'many', '--num-images', '2', '--width', '256', '--height', '256', '-o', out],
      { FLUXHOST_DATA_DIR: path.join(work, 'data') },
    )
    expect(made.stdout.trim().split('\n')).toEqual([out, path.join(work, 'many-2.jpg')])
    const failed = await runCli(
      ['generate', 'nope', '--simulate', 'content_moderated', '-o', path.join(work, 'never.jpg')],
      { FLUXHOST_DATA_DIR: path.join(work, 'data') },
    )
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('CONTENT_MODERATED')
    expect(fs.existsSync(path.join(work, 'never.jpg'))).toBe(false)
  })

  it('generate --server talks to a running server', async () => {
    const out = path.join(work, 'remote.webp')
    const { code, stdout, stderr } = await runCli([
      'generate',
      'remote',
      '--server',
      server.url,
      '--key',
      KEY_A,
      '--width',
      '256',
      '--height',
      '256',
      '-o',
      out,
    ])
    expect(code, stderr).toBe(0)
    expect(stdout.trim()).toBe(out)
    expect((await sharp(out).metadata()).format).toBe('webp')
    const wrongKey = await runCli(['generate', 'remote', '--server', server.url, '--key', 'bad', '-o', out])
    expect(wrongKey.code).toBe(1)
    expect(wrongKey.stderr).toContain('UNAUTHORIZED')
  })

  it('worker runs, with no HTTP, the jobs a --no-worker server takes; SIGTERM stops it with exit 0', async () => {
    const apiOnly = await startTestServer({}, { worker: false })
    const worker = spawnCli(['worker', '--worker-concurrency', '1'], {
      ...apiOnly.recordsEnv,
      FLUXHOST_LOG_LEVEL: 'warn',
    })
    try {
      await worker.waitFor(/worker: 1 at a time/)
      const created = await api(`${apiOnly.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'made elsewhere', width: 256, height: 256 },
      })
      expect(await apiOnly.waitForJob(created.body.id)).toMatchObject({ state: 'succeeded', engine: 'preview' })
      worker.process.kill('SIGTERM')
      expect((await worker.exited).code).toBe(0)
    } finally {
      worker.process.kill('SIGKILL')
      await apiOnly.close()
    }
  })

  it('jobs list, show and cancel work on the local data dir', async () => {
    const created = await api(`${server.url}/api/jobs`, {
      body: { prompt: 'cancel from the CLI', width: 256, height: 256 },
      headers: { 'x-fluxhost-simulate': 'slow=30000' },
    })
    const id = created.body.id as string
    await server.waitUntilRunning(id)
    const listed = await runCli(['jobs', 'list', '--state', 'running'], local())
    expect(listed.stdout).toContain(id)
    const shown = await runCli(['jobs', 'show', id], local())
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, state: 'running' })
    const canceled = await runCli(['jobs', 'cancel', id], local())
    expect(canceled.stdout.trim()).toBe(`${id} canceled`)
    // The server's worker learns of it through its lease and stops.
    expect((await server.waitForJob(id)).state).toBe('canceled')
    expect((await runCli(['jobs', 'show', 'nope'], local())).code).toBe(1)
  })

  it('usage prints what one key was charged, per day and model, as a table and as JSON', async () => {
    const key = (await runCli(['keys', 'create', '--name', 'usage-bot'], local())).stdout.trim()
    const id = (
      JSON.parse((await runCli(['keys', 'list', '--json'], local())).stdout) as { id: string; name: string }[]
    ).find((k) => k.name === 'usage-bot')!.id
    const made = await api(`${server.url}/v1/images/generations`, {
      key,
      body: { model: 'flux-pro/v1.1', prompt: 'two apples', image_size: 'square', num_images: 2 },
    })
    expect(made.status).toBe(201)
    const failed = await api(`${server.url}/v1/images/generations`, {
      key,
      body: { model: 'flux-pro/v1.1', prompt: 'x', image_size: 'square' },
      headers: { 'x-fluxhost-simulate': 'error' },
    })
    expect(failed.status).toBe(500)

    const json = await runCli(['usage', '--key', id, '--json'], local())
    expect(json.code, json.stderr).toBe(0)
    const today = new Date().toISOString().slice(0, 10)
    expect(JSON.parse(json.stdout)).toMatchObject({
      keyId: id,
      total: { usd: '0.08', images: 2, jobs: 1 },
      days: 30,
      window: { usd: '0.08', images: 2, jobs: 1 },
      byModel: [{ model: 'flux-pro-1.1', usd: '0.08', images: 2, jobs: 1 }],
      daily: [{ day: today, model: 'flux-pro-1.1', usd: '0.08', images: 2, jobs: 1 }],
    })
    const text = await runCli(['usage', '--key', id], local())
    expect(text.stdout).toMatch(new RegExp(`${today}\\s+flux-pro-1\\.1\\s+1\\s+2\\s+0\\.08`))
    expect((await runCli(['usage', '--days', '0'], local())).code).toBe(2)
    expect((await runCli(['usage', '--key', 'key_nope'], local())).code).toBe(1)
  })

  it('serve creates and prints an admin key once when none exists', async () => {
    const dataDir = path.join(work, 'fresh')
    const first = await startServe({ FLUXHOST_DATA_DIR: dataDir })
    await first.child.waitFor(/shown only this once:\s+(fh_\S+)/)
    const key = first.child.stdout().match(/shown only this once:\s+(fh_\S+)/)![1]!
    expect((await api(`${first.url}/api/jobs`, { key })).status).toBe(200)
    first.child.process.kill('SIGTERM')
    await first.child.exited
    const second = await startServe({ FLUXHOST_DATA_DIR: dataDir })
    second.child.process.kill('SIGTERM')
    await second.child.exited
    expect(second.child.stdout()).not.toContain('shown only this once')
  })
})
