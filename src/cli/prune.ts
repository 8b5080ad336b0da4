import type { Command } from 'commander'
import type { PruneReport } from '../services/retention.js'
import { table } from './format.js'
import { CliExit, type CliIo } from './io.js'
import { withRecords } from './local.js'
import { addSettingOptions, configFrom } from './settings-options.js'

const megabytes = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`

function render(report: PruneReport): string {
  const verb = report.dryRun ? 'would remove' : 'removed'
  return [
    `${report.dryRun ? 'dry run: nothing was deleted. ' : ''}Jobs that finished before ${report.cutoff.toISOString()}:`,
    table([
      ['', verb],
      ['jobs (images deleted, prompt and inputs scrubbed)', String(report.jobs)],
      ['images', `${report.images} (${megabytes(report.bytes)}, with their thumbnails)`],
      ['image prompts', String(report.imagePrompts)],
      ['webhook deliveries', `${report.webhookDeliveries} (${report.webhookAttempts} attempts)`],
      ['expired idempotency keys', String(report.idempotencyKeys)],
    ]),
    ...(report.failed > 0
      ? [`${report.failed} jobs kept: their files could not be deleted; the next sweep tries again`]
      : []),
    'Charges and usage are unchanged.',
  ].join('\n')
}

export function pruneCommand(program: Command, io: CliIo): void {
  addSettingOptions(
    program
      .command('prune')
      .description(
        'Apply FLUXHOST_RETENTION now: delete the images of jobs that finished longer ago and scrub their ' +
          'prompts; a running server also does this every hour.',
      ),
    ['dataDir', 'retention'],
  )
    .option('--dry-run', 'only count what would be deleted', false)
    .option('--json', 'print JSON', false)
    .action(async (opts: Record<string, unknown>) => {
      const config = configFrom(io, opts)
      if (config.retentionMs === null)
        throw new CliExit(2, 'no retention period: set FLUXHOST_RETENTION or give --retention (e.g. 30d)')
      await withRecords(config, async ({ services }) => {
        const report = await services.retention.prune({ dryRun: opts.dryRun === true })
        if (!report.ran) throw new CliExit(1, 'another process is pruning these records now; try again later')
        io.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : render(report)}\n`)
        if (report.failed > 0) throw new CliExit(1, '')
      })
    })
}
