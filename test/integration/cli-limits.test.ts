import os from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/child.js'
import { api, startTestServer, type TestServer } from '../helpers/server.js'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server.close()
})

const cli = (args: string[]) => runCli(args, server.recordsEnv)
const json = async (args: string[]) => {
  const result = await cli([...args, '--json'])
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as Record<string, unknown>
}

/** Creates a key with `keys create`; its secret and id. */
async function createKey(name: string): Promise<{ key: string; id: string }> {
  const created = await cli(['keys', 'create', '--name', name])
  expect(created.code, created.stderr).toBe(0)
  const id = /created user key (\S+) /.exec(created.stderr)![1]!
  return { key: created.stdout.trim(), id }
}

/** The user the CLI records in the ledger, worked out as the CLI does. */
function osUser(): string {
  try {
    return os.userInfo().username || 'cli'
  } catch {
    return 'cli'
  }
}

// Each CLI child takes seconds to start from source.
describe('fluxhost keys limits, credit and ledger; usage --csv', { timeout: 180_000 }, () => {
  it('keys limits changes only the limits given and prints the standing, as a table and as JSON', async () => {
    const { id } = await createKey('limited-bot')
    const fresh = await cli(['keys', 'limits', id])
    expect(fresh.code, fresh.stderr).toBe(0)
    expect(fresh.stdout).toContain(`key ${id}`)
    expect(fresh.stdout).toMatch(/concurrency\s+default\s+none\s+0 active/)
    expect(fresh.stdout).toMatch(/budget\s+default\s+none\s+\$0\.00 spent/)

    const set = await cli(['keys', 'limits', id, '--concurrency', '3', '--rpm', '60', '--budget', '20/month'])
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout).toMatch(/concurrency\s+3\s+3\s+0 active/)
    expect(set.stdout).toMatch(/rpm\s+60\s+60\/minute\s+0 this minute/)
    expect(set.stdout).toMatch(/credits\s+none\s+0 reserved/)
    expect(set.stdout).toMatch(/budget\s+\$20\.00\/month\s+\$20\.00\/month\s+\$0\.00 spent, \$0\.00 reserved/)

    // Only --rpm changes; the rest stays as it was.
    const standing = await json(['keys', 'limits', id, '--rpm', 'none'])
    expect(standing).toMatchObject({
      keyId: id,
      concurrency: { limit: 3, setting: 3, active: 0 },
      rpm: { limit: null, setting: 'none', used: 0 },
      credits: { balance: null, reserved: 0, available: null },
      budget: {
        limit: { usd: '20.00', period: 'month' },
        setting: '20.00',
        settingPeriod: 'month',
        spentUsd: '0.00',
        reservedUsd: '0.00',
      },
    })
    expect((standing.budget as { periodStart: string }).periodStart).toMatch(/-01T00:00:00\.000Z$/)

    // All four at once, as the issue writes it: --credits sets the balance (recorded in the ledger).
    const all = await json(['keys', 'limits', id, '--concurrency', '4', '--rpm', '60', '--credits', '5000'])
    expect(all).toMatchObject({ concurrency: { limit: 4 }, rpm: { limit: 60 }, credits: { balance: 5000 } })
    const ledger = await json(['keys', 'ledger', id])
    expect((ledger.data as { kind: string }[])[0]).toMatchObject({ kind: 'set', balance: 5000 })
    const badCredits = await cli(['keys', 'limits', id, '--credits', 'lots'])
    expect(badCredits.code).toBe(2)
    expect(badCredits.stderr).toMatch(/--credits must be a number of credits/)
    await cli(['keys', 'limits', id, '--rpm', 'none', '--credits', 'none'])

    const back = await json(['keys', 'limits', id, '--concurrency', 'default', '--budget', '5.50/day'])
    expect(back).toMatchObject({
      concurrency: { limit: null, setting: 'default' },
      rpm: { limit: null, setting: 'none' },
      budget: { limit: { usd: '5.50', period: 'day' }, settingPeriod: 'day' },
    })
  })

  it('refuses bad values with exit 2, naming the option, and changes nothing', async () => {
    const { id } = await createKey('bad-values-bot')
    await cli(['keys', 'limits', id, '--concurrency', '4'])
    const [negative, year, word, amount, unknown] = await Promise.all([
      cli(['keys', 'limits', id, '--concurrency', '-2', '--rpm', '5']),
      cli(['keys', 'limits', id, '--budget', '20/year']),
      cli(['keys', 'limits', id, '--rpm', 'lots']),
      cli(['keys', 'credit', id, '12abc']),
      cli(['keys', 'limits', 'key_nope', '--rpm', '5']),
    ])
    expect(negative.code).toBe(2)
    expect(negative.stderr).toContain('--concurrency must be a whole number')
    expect(negative.stderr).toContain('"-2"')
    expect(year.code).toBe(2)
    expect(year.stderr).toContain('--budget must be US dollars per day, week or month')
    expect(year.stderr).toContain('"20/year"')
    expect(word.code).toBe(2)
    expect(word.stderr).toContain('--rpm must be a whole number')
    expect(amount.code).toBe(2)
    expect(amount.stderr).toContain('<amount> must be')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('KEY_NOT_FOUND')
    expect(await json(['keys', 'limits', id])).toMatchObject({
      concurrency: { limit: 4, setting: 4 },
      rpm: { limit: null, setting: 'default' },
      budget: { limit: null, setting: 'default' },
    })
  })

  it('keys credit adds, takes away, sets and removes a balance; keys ledger lists each by cli:<user>', async () => {
    const { id } = await createKey('credit-bot')
    const added = await cli(['keys', 'credit', id, '+1000', '--note', 'first top-up'])
    expect(added.code, added.stderr).toBe(0)
    expect(added.stdout).toMatch(/credits\s+1000 balance\s+0 reserved, 1000 available/)
    expect(await json(['keys', 'credit', id, '250.25'])).toMatchObject({
      credits: { balance: 1250.25, reserved: 0, available: 1250.25 },
    })
    expect(await json(['keys', 'credit', id, '-50'])).toMatchObject({ credits: { balance: 1200.25 } })
    expect(await json(['keys', 'credit', id, '=500'])).toMatchObject({
      credits: { balance: 500, available: 500 },
    })
    const removed = await cli(['keys', 'credit', id, 'none'])
    expect(removed.code, removed.stderr).toBe(0)
    expect(removed.stdout).toMatch(/credits\s+none\s+0 reserved\n/)

    const actor = `cli:${osUser()}`
    const ledger = await cli(['keys', 'ledger', id])
    expect(ledger.code, ledger.stderr).toBe(0)
    const lines = ledger.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^TIME\s+KIND\s+CREDITS\s+BALANCE\s+ACTOR\s+NOTE$/)
    // Newest first.
    const rows = lines.slice(1).map((line) => line.trim().split(/\s{2,}/))
    expect(rows.map((row) => row.slice(1, 5))).toEqual([
      ['set', '=none', 'none', actor],
      ['set', '=500', '500', actor],
      ['topup', '-50', '1200.25', actor],
      ['topup', '+250.25', '1250.25', actor],
      ['topup', '+1000', '1000', actor],
    ])
    expect(rows[4]![5]).toBe('first top-up')
    expect(rows[0]![0]).toMatch(/^\d{4}-\d\d-\d\dT/)

    const data = (await json(['keys', 'ledger', id])).data as Record<string, unknown>[]
    expect(data).toHaveLength(5)
    expect(data[4]).toMatchObject({ kind: 'topup', credits: 1000, balance: 1000, actor, note: 'first top-up' })
    expect(data[1]).toMatchObject({ kind: 'set', credits: 500, balance: 500, actor, note: null })
    expect(data[0]).toMatchObject({ kind: 'set', balance: null, actor })
  })

  it('a charged job shows in the standing (credits, budget) and in usage --csv', async () => {
    const { key, id } = await createKey('csv-bot')
    await cli(['keys', 'credit', id, '1000'])
    await cli(['keys', 'limits', id, '--budget', '20/month'])
    const made = await api(`${server.url}/v1/images/generations`, {
      key,
      body: { model: 'flux-pro/v1.1', prompt: 'two apples', image_size: 'square', num_images: 2 },
    })
    expect(made.status).toBe(201)

    const standing = await json(['keys', 'limits', id])
    expect(standing).toMatchObject({
      concurrency: { active: 0 },
      credits: { balance: 992, reserved: 0, available: 992 },
      budget: { spentUsd: '0.08', reservedUsd: '0.00' },
    })

    const today = new Date().toISOString().slice(0, 10)
    const one = await cli(['usage', '--csv', '--key', id])
    expect(one.code, one.stderr).toBe(0)
    expect(one.stdout.split('\r\n')).toEqual([
      'day,key_id,key_name,model,jobs,images,usd',
      `${today},${id},csv-bot,flux-pro-1.1,1,2,0.08`,
      '',
    ])
    const all = await cli(['usage', '--csv', '--days', '7'])
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout.startsWith('day,key_id,key_name,model,jobs,images,usd\r\n')).toBe(true)
    expect(all.stdout).toContain(`${today},${id},csv-bot,flux-pro-1.1,1,2,0.08\r\n`)
    expect((await cli(['usage', '--csv', '--json'])).code).toBe(2)
  })
})
