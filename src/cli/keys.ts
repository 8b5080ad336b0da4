import type { Command } from 'commander'
import { table } from './format.js'
import type { CliIo } from './io.js'
import { keyLimitCommands } from './limits.js'
import { withRecords } from './local.js'
import { addSettingOptions, configFrom } from './settings-options.js'

const iso = (date: Date | null) => (date ? date.toISOString() : '')

export function keysCommand(program: Command, io: CliIo): void {
  const keys = program.command('keys').description('Manage API keys in the local data dir.')
  const out = (text: string) => io.stdout.write(`${text}\n`)

  addSettingOptions(keys.command('create').description('Create an API key and print it (the only time it is shown).'), [
    'dataDir',
    'apiKeys',
  ])
    .requiredOption('--name <name>', 'a name to recognise the key by')
    .option('--admin', 'make it an admin key', false)
    .action(async (opts: Record<string, unknown>) => {
      await withRecords(configFrom(io, opts), async ({ services }) => {
        const { key, apiKey } = await services.keys.create(String(opts.name), opts.admin ? 'admin' : 'user')
        out(key)
        io.stderr.write(
          `created ${apiKey.scope} key ${apiKey.id} (${apiKey.name}); store it now, it will not be shown again\n`,
        )
      })
    })

  addSettingOptions(keys.command('list').description('List API keys (never their secrets).'), ['dataDir', 'apiKeys'])
    .option('--json', 'print JSON', false)
    .action(async (opts: Record<string, unknown>) => {
      await withRecords(configFrom(io, opts), async ({ services }) => {
        const list = await services.keys.list()
        if (opts.json) return out(JSON.stringify(list, null, 2))
        out(
          table([
            ['ID', 'NAME', 'SCOPE', 'SOURCE', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
            ...list.map((k) => [
              k.id,
              k.name,
              k.scope,
              k.source,
              `${k.prefix}…`,
              iso(k.createdAt),
              iso(k.lastUsedAt),
              iso(k.revokedAt),
            ]),
          ]),
        )
      })
    })

  addSettingOptions(
    keys
      .command('revoke')
      .description(
        'Revoke an API key: it stops working at once, and its queued and running jobs are canceled ' +
          '(not charged). The last active admin key cannot be revoked.',
      ),
    ['dataDir', 'apiKeys'],
  )
    .argument('<id>', 'the key id (from keys list)')
    .action(async (id: string, opts: Record<string, unknown>) => {
      await withRecords(configFrom(io, opts), async ({ services }) => {
        const { apiKey, canceledJobs } = await services.keys.revoke(id)
        const jobs = canceledJobs.length === 1 ? '1 unfinished job' : `${canceledJobs.length} unfinished jobs`
        out(`revoked ${apiKey.id} (${apiKey.name}); canceled ${jobs} of it`)
      })
    })

  addSettingOptions(
    keys
      .command('webhook-secret')
      .description("Print the key's webhook signing secret (Standard Webhooks, whsec_…); --rotate replaces it."),
    ['dataDir', 'apiKeys'],
  )
    .argument('<id>', 'the key id (from keys list)')
    .option('--rotate', 'make a new secret; webhooks from now on are signed with it', false)
    .action(async (id: string, opts: Record<string, unknown>) => {
      await withRecords(configFrom(io, opts), async ({ services }) => {
        out(await services.keys.webhookSecret(id, { rotate: Boolean(opts.rotate) }))
      })
    })

  keyLimitCommands(keys, io)
}
