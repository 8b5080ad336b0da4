import type { Command } from 'commander'
import { systemClock } from '../domain/clock.js'
import { ENGINE_REGISTRY } from '../engines/registry.js'
import { buildEngineRoutes } from '../engines/routes.js'
import { createModelCatalog } from '../services/models.js'
import { table } from './format.js'
import { CliExit, type CliIo } from './io.js'
import { addSettingOptions, configFrom } from './settings-options.js'

/**
 * `fluxhost doctor`: checks every configured engine and prints what serves each model. It
 * builds only the engines, so a GPU host can check them without reaching the records.
 */
export function doctorCommand(program: Command, io: CliIo): void {
  addSettingOptions(
    program
      .command('doctor')
      .description(
        'Check every configured engine (reachable? key accepted?) and print which engines serve each model.',
      ),
  )
    .option('--json', 'print JSON', false)
    .action(async (opts: Record<string, unknown>) => {
      const config = configFrom(io, opts)
      const { router } = buildEngineRoutes(config, ENGINE_REGISTRY)
      const catalog = createModelCatalog({
        router,
        clock: systemClock,
        pricesUsd: config.pricesUsd,
        enginePricesUsd: config.enginePricesUsd,
      })
      const models = await catalog.models({ fresh: true })
      if (opts.json) {
        // A fresh process has no health to tell: the check and the price are what doctor knows.
        const report = models.map((m) => ({
          model: m.id,
          policy: m.policy,
          engines: m.engineStatus.map(({ health: _health, ...status }) => status),
        }))
        io.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
      } else {
        const rows = models.flatMap((m) =>
          m.engineStatus.map((e, i) => [
            i === 0 ? m.id : '',
            `${i + 1}. ${e.name}`,
            e.reachable ? 'ok' : 'UNREACHABLE',
            e.priceUsd === undefined ? '' : `$${e.priceUsd}`,
            e.detail,
          ]),
        )
        io.stdout.write(`${table([['MODEL', 'ENGINE', 'STATUS', 'PRICE', 'DETAIL'], ...rows])}\n`)
      }
      // A model none of whose engines works cannot be served: say so in the exit status.
      const dead = models.filter((m) => !m.engineStatus.some((e) => e.reachable))
      if (dead.length > 0) throw new CliExit(1, `no reachable engine for ${dead.map((m) => m.id).join(', ')}`)
    })
}
