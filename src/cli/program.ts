import { Command, CommanderError } from 'commander'
import { environmentHelp } from '../config/help.js'
import { FluxhostError } from '../domain/errors.js'
import { readVersion } from '../main.js'
import { doctorCommand } from './doctor.js'
import { generateCommand } from './generate.js'
import { CliExit, type CliIo } from './io.js'
import { jobsCommand } from './jobs.js'
import { keysCommand } from './keys.js'
import { withRecords } from './local.js'
import { pruneCommand } from './prune.js'
import { serveCommand, workerCommand } from './serve.js'
import { addSettingOptions, configFrom } from './settings-options.js'
import { usageCommand } from './usage.js'
import { webhooksCommand } from './webhooks.js'

export function buildProgram(io: CliIo): Command {
  const program = new Command('fluxhost')
    .description('Self-hosted FLUX 1.1 [pro] image-generation API.')
    .version(readVersion())
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError()
    .addHelpText('after', `\n${environmentHelp()}\n`)
  serveCommand(program, io)
  workerCommand(program, io)
  generateCommand(program, io)
  keysCommand(program, io)
  jobsCommand(program, io)
  usageCommand(program, io)
  webhooksCommand(program, io)
  pruneCommand(program, io)
  doctorCommand(program, io)
  addSettingOptions(
    program.command('migrate').description('Create or upgrade the database in the data dir, then exit.'),
    ['dataDir'],
  ).action(async (opts: Record<string, unknown>) => {
    const config = configFrom(io, opts)
    await withRecords(config, async () => undefined)
    io.stdout.write(`database in ${config.dataDir} is up to date\n`)
  })
  // Every subcommand shares the same overrides and output as the root.
  for (const command of program.commands) {
    command.exitOverride().configureOutput(program.configureOutput())
    for (const sub of command.commands) sub.exitOverride().configureOutput(program.configureOutput())
  }
  return program
}

/** Runs the CLI; resolves with the exit code instead of exiting. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io)
  try {
    await program.parseAsync(argv)
    return 0
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
        ? 0
        : 2
    }
    if (error instanceof CliExit) {
      if (error.message) io.stderr.write(`error: ${error.message}\n`)
      return error.code
    }
    if (error instanceof FluxhostError) {
      io.stderr.write(`error: ${error.code}: ${error.message}\n`)
      return 1
    }
    io.stderr.write(`error: ${(error as Error).stack ?? String(error)}\n`)
    return 1
  }
}
