import type { Command } from 'commander'
import type { Delivery } from '../services/webhooks.js'
import { table } from './format.js'
import type { CliIo } from './io.js'
import { withRecords } from './local.js'
import { addSettingOptions, configFrom } from './settings-options.js'

const iso = (date: Date | null) => (date ? date.toISOString() : '')

function render(deliveries: Delivery[]): string {
  const rows: string[][] = [['DELIVERY', 'STATE', 'ATTEMPT', 'AT', 'STATUS', 'MS', 'OUTCOME', 'ERROR']]
  for (const d of deliveries) {
    if (d.attempts.length === 0) rows.push([d.id, d.state, '', iso(d.nextAttemptAt), '', '', 'due', ''])
    for (const a of d.attempts)
      rows.push([
        d.id,
        d.state,
        String(a.attempt),
        iso(a.at),
        a.status === null ? '' : String(a.status),
        String(a.latencyMs),
        a.outcome,
        a.error ?? '',
      ])
  }
  return table(rows)
}

export function webhooksCommand(program: Command, io: CliIo): void {
  const webhooks = program.command('webhooks').description('Webhook deliveries in the local data dir.')
  const out = (text: string) => io.stdout.write(`${text}\n`)

  addSettingOptions(webhooks.command('list').description("A job's webhook deliveries and every attempt."), ['dataDir'])
    .argument('<job-id>', 'the job')
    .option('--json', 'print JSON', false)
    .action(async (jobId: string, opts: Record<string, unknown>) => {
      await withRecords(configFrom(io, opts), async ({ services }) => {
        const deliveries = await services.webhooks.listForJob(jobId, undefined)
        out(opts.json ? JSON.stringify(deliveries, null, 2) : render(deliveries))
      })
    })

  addSettingOptions(
    webhooks
      .command('redeliver')
      .description('Send a finished delivery again (same webhook-id); a running server makes the attempts.'),
    ['dataDir'],
  )
    .argument('<delivery-id>', 'the delivery (from webhooks list)')
    .action(async (id: string, opts: Record<string, unknown>) => {
      await withRecords(configFrom(io, opts), async ({ services }) => {
        const delivery = await services.webhooks.redeliver(id, undefined)
        out(`${delivery.id} ${delivery.state}`)
      })
    })
}
