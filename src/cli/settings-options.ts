import { type Command, Option } from 'commander'
import { type Config, ConfigError, type FlagValues, loadConfig } from '../config/load-config.js'
import type { Setting } from '../config/parsers.js'
import { SETTINGS, type SettingName } from '../config/settings.js'
import { CliExit, type CliIo } from './io.js'

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

/** Adds a `--flag` for each named setting (all of them by default). */
export function addSettingOptions(
  command: Command,
  names: readonly SettingName[] = Object.keys(SETTINGS) as SettingName[],
): Command {
  for (const name of names) {
    // Widened to what every setting may declare (SETTINGS keeps each one's literal type).
    const setting: Setting<unknown> = SETTINGS[name]
    if (setting.kind === 'boolean') {
      command.addOption(new Option(`--${setting.flag}`, `${setting.describe} [${setting.env}]`))
      command.addOption(new Option(`--no-${setting.flag}`).hideHelp())
    } else if (setting.bareFlag !== undefined) {
      // Given bare, the value it had when it was a boolean flag; `--no-<flag>` still turns it off.
      command.addOption(
        new Option(`--${setting.flag} [value]`, `${setting.describe} [${setting.env}]`).preset(setting.bareFlag),
      )
      command.addOption(new Option(`--no-${setting.flag}`).hideHelp())
    } else {
      command.addOption(new Option(`--${setting.flag} <value>`, `${setting.describe} [${setting.env}]`))
    }
  }
  return command
}

/** Commander's parsed options, renamed to setting names. */
export function flagValues(opts: Record<string, unknown>): FlagValues {
  const flags: FlagValues = {}
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const value = opts[camel(setting.flag)]
    if (typeof value === 'string' || typeof value === 'boolean') flags[name as SettingName] = value
  }
  return flags
}

export function configFrom(io: CliIo, opts: Record<string, unknown>): Readonly<Config> {
  try {
    const config = loadConfig(io.env, flagValues(opts), { cwd: io.cwd })
    for (const notice of config.notices) io.stderr.write(`warning: ${notice}\n`)
    return config
  } catch (error) {
    if (error instanceof ConfigError) throw new CliExit(2, error.message)
    throw error
  }
}
