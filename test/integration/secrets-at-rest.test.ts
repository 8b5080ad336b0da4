import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, KEY_A, startTestServer, type TestServer, tempDir } from '../helpers/server.js'
import { createSchema, POSTGRES_URL, probePostgres } from '../helpers/services.js'
import { openRawDb, type RecordsAt } from '../helpers/store.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

// Issue 13, item 7: the data dir and its files are this user's alone, and webhook signing
// secrets are sealed in the records. This file sets up PostgreSQL itself, so the distributed
// project (the same tests with other records) would only repeat it.
const postgres = await probePostgres()
const ENV = { FLUXHOST_ALLOW_PRIVATE_URLS: '1' }

let umask: number
beforeAll(() => {
  // The usual umask: without fluxhost's own modes, files would be 0644 and folders 0755.
  umask = process.umask(0o022)
})
afterAll(() => {
  process.umask(umask)
})

/** Every file and folder under `dir` (itself included, as ''), with its permission bits. */
function modesUnder(dir: string): Map<string, { mode: number; isDir: boolean }> {
  const found = new Map([['', { mode: fs.statSync(dir).mode & 0o777, isDir: true }]])
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const stat = fs.lstatSync(path.join(dir, name))
    found.set(name, { mode: stat.mode & 0o777, isDir: stat.isDirectory() })
  }
  return found
}

function expectPrivate(dir: string, options: { sqlite: boolean; images: boolean }): void {
  const modes = modesUnder(dir)
  const names = [...modes.keys()]
  if (options.sqlite)
    expect(names).toEqual(expect.arrayContaining(['fluxhost.db', 'fluxhost.db-wal', 'fluxhost.db-shm']))
  if (options.images) expect(names.some((name) => /^blobs\/jobs\/.+\.(png|jpg|jpeg|webp)$/.test(name))).toBe(true)
  for (const [name, { mode, isDir }] of modes) {
    expect({ name, mode: mode.toString(8) }).toEqual({ name, mode: isDir ? '700' : '600' })
  }
}

/** Sets every mode under `dir` back to what a 022 umask gives, as an older fluxhost left them. */
function loosen(dir: string): void {
  for (const [name, { isDir }] of modesUnder(dir)) fs.chmodSync(path.join(dir, name), isDir ? 0o755 : 0o644)
}

/** The api_keys.webhook_secret column as stored, read behind fluxhost's back. */
async function storedSecrets(at: RecordsAt): Promise<Map<string, string>> {
  const raw = openRawDb(at)
  try {
    const rows = await raw
      .selectFrom('api_keys')
      .select(['id', 'webhook_secret'])
      .where('webhook_secret', 'is not', null)
      .execute()
    return new Map(rows.map((row) => [row.id, row.webhook_secret!]))
  } finally {
    await raw.destroy()
  }
}

async function setStoredSecret(at: RecordsAt, id: string, value: string): Promise<void> {
  const raw = openRawDb(at)
  try {
    await raw.updateTable('api_keys').set({ webhook_secret: value }).where('id', '=', id).execute()
  } finally {
    await raw.destroy()
  }
}

const secretOf = async (server: TestServer) => {
  const answer = await api(`${server.url}/api/webhook-secret`, { key: KEY_A })
  expect(answer.status).toBe(200)
  return answer.body as { keyId: string; secret: string }
}

/** Makes a job with a webhook and checks that its delivery verifies with `secret`. */
async function deliveryVerifies(server: TestServer, secret: string): Promise<void> {
  const hook = await startReceiver()
  try {
    const created = await api(`${server.url}/v1/flux-pro-1.1`, {
      body: { prompt: 'a locked box', width: 256, height: 256, webhook_url: hook.url },
    })
    expect(created.status).toBe(200)
    const [received] = await hook.received(1)
    const payload = new Webhook(secret).verify(received!.body, received!.headers as Record<string, string>) as any
    expect(payload).toMatchObject({ id: created.body.id, status: 'Ready' })
  } finally {
    await hook.close()
  }
}

const sealedText = /^v1:[A-Za-z0-9_-]+$/

const stores = postgres.ok ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const)

describe.skipIf(process.env.FLUXHOST_TEST_MODE === 'distributed').each(stores)('secrets at rest on %s', (kind) => {
  let root: string
  let dataDir: string
  let env: Record<string, string>
  let drop = async () => {}
  beforeAll(async () => {
    root = tempDir()
    dataDir = path.join(root, 'data') // made by the server, under the 022 umask
    env = { ...ENV }
    if (kind === 'postgres') {
      const schema = await createSchema()
      drop = schema.drop
      env = { ...env, DATABASE_URL: POSTGRES_URL, FLUXHOST_DATABASE_SCHEMA: schema.schema }
    }
  })
  afterAll(async () => {
    await drop()
    fs.rmSync(root, { recursive: true, force: true })
  })
  const start = (extra: Record<string, string> = {}) => startTestServer({ ...env, ...extra }, { dataDir })

  it("seals BFL's per-job webhook_secret in the records and sends it back in clear", async () => {
    const server = await start()
    const hook = await startReceiver()
    try {
      const jobSecret = `bfl-job-secret-${randomBytes(6).toString('hex')}`
      const created = await api(`${server.url}/v1/flux-pro-1.1`, {
        body: { prompt: 'sealed', width: 256, height: 256, webhook_url: hook.url, webhook_secret: jobSecret },
      })
      expect(created.status).toBe(200)
      const [received] = await hook.received(1)
      expect(received!.headers['x-webhook-secret']).toBe(jobSecret)
      const raw = openRawDb(server.recordsAt)
      try {
        const row = await raw.selectFrom('jobs').select('request').where('id', '=', created.body.id).executeTakeFirst()
        expect(String(row!.request)).not.toContain(jobSecret)
        expect(String(row!.request)).toMatch(/"secret":"v1:[A-Za-z0-9_-]+"/)
      } finally {
        await raw.destroy()
      }
    } finally {
      await hook.close()
      await server.close()
    }
  })

  it('keeps the data dir 0700 and its files 0600, and the webhook secret sealed in the records', async () => {
    const server = await start()
    try {
      const { keyId, secret } = await secretOf(server)
      await deliveryVerifies(server, secret)
      // While the server runs (the SQLite -wal and -shm files exist), before anything else opens them.
      expectPrivate(dataDir, { sqlite: kind === 'sqlite', images: true })
      const stored = await storedSecrets(server.recordsAt)
      expect(stored.get(keyId)).toMatch(sealedText)
      expect(stored.get(keyId)).not.toContain(secret.slice('whsec_'.length))
      for (const value of stored.values()) expect(value).toMatch(sealedText)
      // Read again (another request, the CLI), it is the same secret.
      expect((await secretOf(server)).secret).toBe(secret)
    } finally {
      await server.close()
    }
  })

  it('seals clear-text secrets left from before at start, keeps them working, and tightens loose modes', async () => {
    const first = await start()
    const { keyId } = await secretOf(first)
    const at = first.recordsAt
    await first.close()
    const clear = `whsec_${randomBytes(32).toString('base64')}`
    await setStoredSecret(at, keyId, clear)
    loosen(dataDir)

    const server = await start()
    try {
      const stored = (await storedSecrets(at)).get(keyId)
      expect(stored).toMatch(sealedText)
      expect(stored).not.toContain(clear.slice('whsec_'.length))
      expect((await secretOf(server)).secret).toBe(clear)
      await deliveryVerifies(server, clear)
      expectPrivate(dataDir, { sqlite: kind === 'sqlite', images: true })
    } finally {
      await server.close()
    }
  })

  it('fails loudly (never a wrong secret) when a sealed value was altered or the server secret changed', async () => {
    const first = await start()
    const { keyId, secret } = await secretOf(first)
    const at = first.recordsAt
    await first.close()
    // Altered in the records: the secret is refused, not read as something else.
    const sealed = (await storedSecrets(at)).get(keyId)!
    const altered = `${sealed.slice(0, 10)}${sealed[10] === 'A' ? 'B' : 'A'}${sealed.slice(11)}`
    await setStoredSecret(at, keyId, altered)
    let server = await start()
    try {
      const answer = await api(`${server.url}/api/webhook-secret`, { key: KEY_A })
      expect(answer.status).toBe(500)
      expect(answer.text).not.toContain('whsec_')
      await expect(server.fluxhost.services.keys.webhookSecret(keyId)).rejects.toThrow(
        /webhook secret of key .* cannot be read.*altered, or sealed under another server secret/,
      )
    } finally {
      await server.close()
    }
    await setStoredSecret(at, keyId, sealed)
    // Another server secret (FLUXHOST_FILE_URL_SECRET set, or the `secret` file replaced).
    server = await start({ FLUXHOST_FILE_URL_SECRET: randomBytes(32).toString('hex') })
    try {
      expect((await api(`${server.url}/api/webhook-secret`, { key: KEY_A })).status).toBe(500)
      // Rotating makes a new one, sealed under the server secret now in use.
      const rotated = await server.fluxhost.services.keys.webhookSecret(keyId, { rotate: true })
      expect(rotated).not.toBe(secret)
      expect((await secretOf(server)).secret).toBe(rotated)
      await deliveryVerifies(server, rotated)
    } finally {
      await server.close()
    }
  })
})
