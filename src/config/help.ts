import { SETTINGS } from './settings.js'

function showDefault(value: unknown): string {
  if (value === null) return '(none)'
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(',')
  if (typeof value === 'object')
    return Object.keys(value as object).length === 0 ? '(list prices)' : JSON.stringify(value)
  return String(value)
}

/** The environment-variable section of `--help`, one line per setting. */
export function environmentHelp(): string {
  const rows = Object.values(SETTINGS).map((s) => [s.env, showDefault(s.default), s.describe] as const)
  const width = Math.max(...rows.map(([env]) => env.length))
  return [
    'Environment (each also a --flag of the same name in kebab case; flags win):',
    ...rows.map(([env, def, describe]) => `  ${env.padEnd(width)}  ${describe} Default: ${def}`),
  ].join('\n')
}
