import type { Command } from 'commander'
import { renderJob } from '../api/native/render.js'
import { urlsFor } from '../api/urls.js'
import { JOB_STATES, type JobState } from '../domain/job.js'
import { JOB_HEADER, jobRow, table } from './format.js'
import { CliExit, type CliIo } from './io.js'
import { baseUrlOf, withRecords } from './local.js'
import { addSettingOptions, configFrom } from './settings-options.js'

export function jobsCommand(program: Command, io: CliIo): void {
  const jobs = program.command('jobs').description('Inspect and cancel jobs in the local data dir (all keys).')
  const out = (text: string) => io.stdout.write(`${text}\n`)

  addSettingOptions(jobs.command('list').description('List jobs, newest first.'), [
    'dataDir',
    'publicUrl',
    'host',
    'port',
  ])
    .option('--state <state>', `only jobs in this state: ${JOB_STATES.join(', ')}`)
    .option('--limit <n>', 'how many (1–100)', '20')
    .option('--json', 'print JSON', false)
    .action(async (opts: Record<string, unknown>) => {
      const state = opts.state as string | undefined
      if (state !== undefined && !(JOB_STATES as readonly string[]).includes(state)) {
        throw new CliExit(2, `--state must be one of ${JOB_STATES.join(', ')}`)
      }
      const limit = Number(opts.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw new CliExit(2, '--limit must be a whole number from 1 to 100')
      const config = configFrom(io, opts)
      await withRecords(config, async ({ services, signer }) => {
        const page = await services.jobs.list(undefined, { limit, state: state as JobState | undefined })
        if (opts.json) {
          const urls = urlsFor(baseUrlOf(config), signer)
          return out(
            JSON.stringify(
              page.jobs.map((job) => renderJob(job, urls)),
              null,
              2,
            ),
          )
        }
        out(table([JOB_HEADER, ...page.jobs.map(jobRow)]))
      })
    })

  addSettingOptions(jobs.command('show').description('Show one job as JSON, with signed image URLs.'), [
    'dataDir',
    'publicUrl',
    'host',
    'port',
  ])
    .argument('<id>', 'job id')
    .action(async (id: string, opts: Record<string, unknown>) => {
      const config = configFrom(io, opts)
      await withRecords(config, async ({ services, signer }) => {
        const job = await services.jobs.get(id, undefined)
        out(JSON.stringify(renderJob(job, urlsFor(baseUrlOf(config), signer)), null, 2))
      })
    })

  addSettingOptions(jobs.command('cancel').description('Cancel a queued or running job.'), ['dataDir'])
    .argument('<id>', 'job id')
    .action(async (id: string, opts: Record<string, unknown>) => {
      await withRecords(configFrom(io, opts), async ({ services }) => {
        const job = await services.jobs.cancel(id, undefined)
        out(`${job.id} ${job.state}`)
      })
    })
}
