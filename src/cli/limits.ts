import os from 'node:os'
import type { Command } from 'commander'
import { renderLedgerEntry, renderStanding } from '../api/limits.js'
import { type KeyStanding, type LimitSetting, parseBudget } from '../domain/limits.js'
import { MICROS_PER_CREDIT, usdToMicros } from '../domain/money.js'
import type { LimitChange } from '../services/limits.js'
import type { LedgerRow } from '../store/limit-repository.js'
import { table } from './format.js'
import { CliExit, type CliIo } from './io.js'
import { withRecords } from './local.js'
import { addSettingOptions, configFrom } from './settings-options.js'

const MAX_LIMIT = 1_000_000_000
const MAX_CREDITS = 1_000_000_000

/** Credits with up to two decimals: `1000`, `12.5`, `0.04`. */
const credits = (value: number) => String(Math.round(value * 100) / 100)
const creditsOf = (micros: number) => credits(micros / MICROS_PER_CREDIT)

/** `N`, `none` or `default` for `--concurrency` and `--rpm`. */
export function parseSetting(option: string, text: string): LimitSetting {
  const value = text.trim().toLowerCase()
  if (value === 'none' || value === 'default') return value
  if (/^\d+$/.test(value) && Number(value) <= MAX_LIMIT) return Number(value)
  throw new CliExit(2, `${option} must be a whole number from 0 to ${MAX_LIMIT}, none or default (got "${text}")`)
}

/** `20/month`, `5.50/day`, `none` or `default` for `--budget`. */
export function parseBudgetOption(text: string): Pick<LimitChange, 'budget' | 'budgetPeriod'> {
  const value = text.trim().toLowerCase()
  if (value === 'none' || value === 'default') return { budget: value }
  const budget = parseBudget(text)
  if (!budget || budget.usd > MAX_LIMIT)
    throw new CliExit(
      2,
      `--budget must be US dollars per day, week or month (20/month, 5.50/day), none or default (got "${text}")`,
    )
  return { budget: usdToMicros(budget.usd), budgetPeriod: budget.period }
}

export type CreditEntry = { kind: 'topup' | 'set'; micros: number | null }

/** `+1000` or `1000` adds credits, `-50` takes them away, `=500` sets the balance, `none` removes it. */
export function parseCredit(text: string): CreditEntry {
  const value = text.trim().toLowerCase()
  if (value === 'none' || value === '=none') return { kind: 'set', micros: null }
  const match = /^([+=-]?)(\d+(?:\.\d{1,4})?)$/.exec(value)
  if (!match || Number(match[2]) > MAX_CREDITS)
    throw new CliExit(
      2,
      `<amount> must be +N or N (add credits), -N (take them away), =N (set the balance) or none ` +
        `(no balance), N up to ${MAX_CREDITS} with up to 4 decimals (got "${text}")`,
    )
  const micros = Math.round(Number(match[2]) * MICROS_PER_CREDIT)
  if (match[1] === '=') return { kind: 'set', micros }
  return { kind: 'topup', micros: match[1] === '-' ? -micros : micros }
}

/** `--credits`: the balance to set, in credits, or none. */
function parseBalance(text: string): CreditEntry {
  try {
    return parseCredit(`=${text.trim().replace(/^=/, '')}`)
  } catch {
    throw new CliExit(2, `--credits must be a number of credits (up to 4 decimals) or none (got "${text}")`)
  }
}

/** Who changes a balance from this machine: `cli:<OS user>`. */
export function cliActor(): string {
  let user = ''
  try {
    user = os.userInfo().username
  } catch {
    // No passwd entry for this uid (some containers).
  }
  return `cli:${user || 'cli'}`
}

const setting = (value: LimitSetting | string) => String(value)
const usd = (text: string) => `$${text}`

/** A key's standing as a table: each limit, as set and in force, and where the key stands. */
export function standingTable(id: string, standing: KeyStanding): string {
  const view = renderStanding(standing)
  const { concurrency, rpm, budget } = view
  const balance = view.credits.balance
  const budgetSetting =
    typeof standing.settings.budget === 'number'
      ? `${usd(view.budget.setting)}/${standing.settings.budgetPeriod ?? 'month'}`
      : view.budget.setting
  const period = `${view.budget.periodStart.slice(0, 10)} to ${view.budget.periodEnd.slice(0, 10)}`
  const rows = [
    ['LIMIT', 'SETTING', 'IN FORCE', 'NOW'],
    [
      'concurrency',
      setting(concurrency.setting),
      concurrency.limit === null ? 'none' : String(concurrency.limit),
      `${concurrency.active} active`,
    ],
    ['rpm', setting(rpm.setting), rpm.limit === null ? 'none' : `${rpm.limit}/minute`, `${rpm.used} this minute`],
    [
      'credits',
      '',
      balance === null ? 'none' : `${credits(balance)} balance`,
      `${credits(view.credits.reserved)} reserved` +
        (view.credits.available === null ? '' : `, ${credits(view.credits.available)} available`),
    ],
    [
      'budget',
      budgetSetting,
      budget.limit === null ? 'none' : `${usd(budget.limit.usd)}/${budget.limit.period}`,
      `${usd(budget.spentUsd)} spent, ${usd(budget.reservedUsd)} reserved (${period}, UTC)`,
    ],
  ]
  const alerts = `budget alerts: ${view.webhookUrl ?? 'no webhook (log only)'}`
  return `key ${id}\n${table(rows)}\n${alerts}`
}

function ledgerTable(rows: LedgerRow[]): string {
  return table([
    ['TIME', 'KIND', 'CREDITS', 'BALANCE', 'ACTOR', 'NOTE'],
    ...rows.map((row) => {
      const delta = creditsOf(row.delta_micros)
      const change =
        row.kind === 'topup'
          ? `${row.delta_micros >= 0 ? '+' : ''}${delta}`
          : `=${row.balance_micros === null ? 'none' : delta}`
      return [
        new Date(row.created_at).toISOString(),
        row.kind,
        change,
        row.balance_micros === null ? 'none' : creditsOf(row.balance_micros),
        row.actor,
        row.note ?? '',
      ]
    }),
  ])
}

/** `keys limits`, `keys credit` and `keys ledger`: a key's limits and prepaid credits. */
export function keyLimitCommands(keys: Command, io: CliIo): void {
  const out = (text: string) => io.stdout.write(`${text}\n`)
  const print = (id: string, standing: KeyStanding, json: unknown) =>
    json ? out(JSON.stringify({ keyId: id, ...renderStanding(standing) }, null, 2)) : out(standingTable(id, standing))

  addSettingOptions(
    keys
      .command('limits')
      .description(
        "Change a key's limits (only those given; a number, none, or default: the server's FLUXHOST_KEY_*), " +
          'then print them and where the key stands against them.',
      ),
    ['dataDir', 'apiKeys'],
  )
    .argument('<id>', 'the key id (from keys list)')
    .option('--concurrency <n>', 'jobs queued or running at once: N, none or default')
    .option('--rpm <n>', 'creates per minute: N, none or default')
    .option('--budget <usd/period>', 'US dollars per UTC day, week or month (20/month), none or default')
    .option('--webhook-url <url>', "where the key's budget alerts go (signed like its job webhooks), or none")
    .option('--credits <n>', 'set the prepaid balance to N credits ($0.01 each), or none (as keys credit =N)')
    .option('--json', 'print JSON', false)
    .action(async (id: string, opts: Record<string, unknown>) => {
      const change: LimitChange = {}
      const credits = opts.credits === undefined ? undefined : parseBalance(String(opts.credits))
      if (opts.webhookUrl !== undefined)
        change.eventWebhookUrl = String(opts.webhookUrl) === 'none' ? null : String(opts.webhookUrl)
      if (opts.concurrency !== undefined) change.concurrency = parseSetting('--concurrency', String(opts.concurrency))
      if (opts.rpm !== undefined) change.rpm = parseSetting('--rpm', String(opts.rpm))
      if (opts.budget !== undefined) Object.assign(change, parseBudgetOption(String(opts.budget)))
      await withRecords(configFrom(io, opts), async ({ services }) => {
        const changed = Object.keys(change).length > 0
        const { limits } = services
        let standing = changed ? await limits.set(id, change, 'options') : await limits.standing(id)
        if (credits) standing = await limits.credit(id, { ...credits, actor: cliActor() })
        print(id, standing, opts.json)
      })
    })

  addSettingOptions(
    keys
      .command('credit')
      .description(
        "Change a key's prepaid credits (1 credit = $0.01): +N or N adds, -N takes away, =N sets the balance, " +
          'none removes it (no longer limited by credits). Recorded in the ledger as cli:<user>.',
      ),
    ['dataDir', 'apiKeys'],
  )
    .argument('<id>', 'the key id (from keys list)')
    .argument('<amount>', '+N, N, -N, =N or none')
    .option('--note <text>', 'why, for the ledger')
    .option('--json', 'print JSON', false)
    .action(async (id: string, amount: string, opts: Record<string, unknown>) => {
      const entry = parseCredit(amount)
      await withRecords(configFrom(io, opts), async ({ services }) => {
        const standing = await services.limits.credit(id, {
          ...entry,
          actor: cliActor(),
          ...(typeof opts.note === 'string' ? { note: opts.note } : {}),
        })
        print(id, standing, opts.json)
      })
    })

  addSettingOptions(
    keys.command('ledger').description("A key's credit ledger, newest first: who changed its credits, and when."),
    ['dataDir', 'apiKeys'],
  )
    .argument('<id>', 'the key id (from keys list)')
    .option('--json', 'print JSON', false)
    .action(async (id: string, opts: Record<string, unknown>) => {
      await withRecords(configFrom(io, opts), async ({ services }) => {
        const rows = await services.limits.ledger(id)
        if (opts.json) return out(JSON.stringify({ keyId: id, data: rows.map(renderLedgerEntry) }, null, 2))
        out(rows.length === 0 ? `no credit changes for ${id}` : ledgerTable(rows))
      })
    })
}
