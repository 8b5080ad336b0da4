import { type Command, Option } from 'commander'
import { renderUsage } from '../api/native/system-routes.js'
import { table } from './format.js'
import { CliExit, type CliIo } from './io.js'
import { withRecords } from './local.js'
import { addSettingOptions, configFrom } from './settings-options.js'

export function usageCommand(program: Command, io: CliIo): void {
  addSettingOptions(
    program
      .command('usage')
      .description('What was charged, per day and model (succeeded jobs only), from the local data dir.'),
    ['dataDir'],
  )
    .option('--key <id>', 'one API key (default: every key)')
    .option('--days <n>', 'how many days back, 1–366', '30')
    .option('--json', 'print JSON', false)
    .addOption(
      new Option('--csv', 'print CSV: per day, key and model (day,key_id,key_name,model,jobs,images,usd)').conflicts(
        'json',
      ),
    )
    .action(async (opts: Record<string, unknown>) => {
      const days = Number(opts.days)
      if (!Number.isInteger(days) || days < 1 || days > 366)
        throw new CliExit(2, '--days must be a whole number from 1 to 366')
      await withRecords(configFrom(io, opts), async ({ services }) => {
        const key = opts.key === undefined ? undefined : (await services.keys.list()).find((k) => k.id === opts.key)
        if (opts.key !== undefined && !key)
          throw new CliExit(1, `no API key ${String(opts.key)} (see fluxhost keys list)`)
        if (opts.csv) return void io.stdout.write(await services.system.usageCsv(key?.id, days))
        const usage = renderUsage(await services.system.usage(key, days))
        if (opts.json) return void io.stdout.write(`${JSON.stringify({ keyId: key?.id ?? null, ...usage }, null, 2)}\n`)
        const rows = usage.daily.map((d) => [d.day, d.model, d.jobs.toString(), d.images.toString(), d.usd])
        io.stdout.write(
          `${table([
            ['DAY', 'MODEL', 'JOBS', 'IMAGES', 'USD'],
            ...rows,
            ['', 'total', String(usage.window.jobs), String(usage.window.images), usage.window.usd],
          ])}\n`,
        )
      })
    })
}
