// The parsers of setting values: each takes the raw text and returns the value or throws
// an Error whose message completes "<VARIABLE> …".
import { ENGINE_NAMES, type EngineName, isEngineName } from '../domain/engines.js'
import { isModelId, MODEL_IDS, type ModelId } from '../domain/models.js'
import { isRoutePolicy, ROUTE_POLICIES, type RoutePolicy, type RouteSpec } from '../domain/routing.js'

/** One configuration key: its env name, flag, default, help line and parser. */
export interface Setting<T> {
  /** FLUXHOST_*, or the names every deployment tool already uses (DATABASE_URL). */
  env: `FLUXHOST_${string}` | 'DATABASE_URL'
  /** Read when `env` is unset: a name platforms set for us (`PORT`). */
  fallbackEnv?: 'PORT'
  /** Long flag name without dashes; booleans also get `--no-<flag>`. */
  flag: string
  kind: 'string' | 'integer' | 'boolean' | 'list' | 'map'
  /**
   * The value of the flag given bare (`--trust-proxy`), for a setting that was a boolean and
   * took values later: its value stays optional on the command line.
   */
  bareFlag?: string
  default: T
  describe: string
  parse(raw: string): T
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export function integer(min: number, max: number) {
  return (raw: string): number => {
    const value = Number(raw.trim())
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value))
      throw new Error(`must be a whole number, got '${raw}'`)
    if (value < min || value > max) throw new Error(`must be between ${min} and ${max}, got ${value}`)
    return value
  }
}

export function boolean(raw: string): boolean {
  const value = raw.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off', ''].includes(value)) return false
  throw new Error(`must be true or false (or 1/0), got '${raw}'`)
}

export function list(raw: string): string[] {
  return raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
}

export function text(raw: string): string {
  return raw.trim()
}

export function optionalText(raw: string): string | null {
  return raw.trim() === '' ? null : raw.trim()
}

export function publicUrl(raw: string): string | null {
  const value = raw.trim()
  if (value === '') return null
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(`must be an absolute http(s) URL, got '${raw}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`must be an http or https URL, got '${raw}'`)
  if (url.search || url.hash) throw new Error('must not have a query or fragment')
  return url.toString().replace(/\/+$/, '')
}

/** BFL's hosts by name: the global one routes anywhere; eu and us stay in their region. */
export function s3Prefix(raw: string): string {
  const value = raw.trim().replace(/^\/+/, '')
  if (value !== '' && !/^[A-Za-z0-9_.\-/]+\/$/.test(value))
    throw new Error(`must be letters, digits, _ . - and /, ending in /, got '${raw}'`)
  return value
}

export function fileDelivery(raw: string): 'proxy' | 'redirect' {
  const value = raw.trim().toLowerCase()
  if (value !== 'proxy' && value !== 'redirect') throw new Error(`must be proxy or redirect, got '${raw}'`)
  return value
}

export function hexSecret(raw: string): string | null {
  const value = raw.trim().toLowerCase()
  if (value === '') return null
  if (!/^[0-9a-f]{64}$/.test(value)) throw new Error('must be 64 hex digits (32 random bytes: `openssl rand -hex 32`)')
  return value
}

/** A service's URL (postgres://…): one of `protocols`, or null when empty. */
export function serviceUrl(protocols: readonly string[], example: string) {
  return (raw: string): string | null => {
    const value = raw.trim()
    if (value === '') return null
    let url: URL
    try {
      url = new URL(value)
    } catch {
      throw new Error(`must be a URL like ${example}`)
    }
    if (!protocols.includes(url.protocol))
      throw new Error(`must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL, got '${url.protocol}//…'`)
    return value
  }
}

export const postgresUrl = serviceUrl(['postgres:', 'postgresql:'], 'postgres://user:password@host:5432/database')

export function schemaName(raw: string): string | null {
  const value = raw.trim()
  if (value === '') return null
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value))
    throw new Error(`must be a lower-case SQL identifier (letters, digits, _), got '${raw}'`)
  return value
}

export const BFL_HOSTS = {
  global: 'https://api.bfl.ai',
  eu: 'https://api.eu.bfl.ai',
  us: 'https://api.us.bfl.ai',
} as const

export function bflUrl(raw: string): string {
  const name = raw.trim().toLowerCase()
  if (Object.hasOwn(BFL_HOSTS, name)) return BFL_HOSTS[name as keyof typeof BFL_HOSTS]
  const url = publicUrl(raw)
  if (url === null) throw new Error('must not be empty')
  return url
}

/**
 * FLUXHOST_ROUTES: `model=[policy:]engine,engine;…`, e.g. `flux-pro-1.1=cheapest:fal,replicate;
 * flux-dev=weighted:fal=3,replicate=1`. Without a policy, the engines are a failover list.
 */
export function routes(raw: string): Partial<Record<ModelId, RouteSpec>> | null {
  if (raw.trim() === '') return null
  const out: Partial<Record<ModelId, RouteSpec>> = {}
  for (const part of raw
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = part.indexOf('=')
    const model = part.slice(0, Math.max(0, at)).trim()
    let rest = at < 0 ? '' : part.slice(at + 1).trim()
    if (!model || at < 0) throw new Error(`expected model=engine,engine, got '${part}'`)
    if (!isModelId(model)) throw new Error(`unknown model '${model}'; models: ${MODEL_IDS.join(', ')}`)
    let policy: RoutePolicy = 'failover'
    const colon = /^([a-z]+):/.exec(rest)
    if (colon) {
      if (!isRoutePolicy(colon[1]!))
        throw new Error(`unknown routing policy '${colon[1]}' for ${model}; policies: ${ROUTE_POLICIES.join(', ')}`)
      policy = colon[1]
      rest = rest.slice(colon[0].length)
    }
    const items = list(rest)
    if (items.length === 0) throw new Error(`no engine listed for ${model}`)
    const engines: EngineName[] = []
    const weights: Partial<Record<EngineName, number>> = {}
    for (const item of items) {
      const [name = '', weight, ...extra] = item.split('=').map((p) => p.trim())
      if (!isEngineName(name)) throw new Error(`unknown engine '${name}'; engines: ${ENGINE_NAMES.join(', ')}`)
      if (engines.includes(name)) throw new Error(`${name} is listed twice for ${model}`)
      if (extra.length > 0 || (weight !== undefined && policy !== 'weighted'))
        throw new Error(`'${item}': engine weights (engine=N) are only for the weighted policy`)
      if (policy === 'weighted') {
        const w = Number(weight ?? '1')
        if (!Number.isFinite(w) || w < 0 || weight === '')
          throw new Error(`the weight of ${name} for ${model} must be a number ≥ 0, got '${weight}'`)
        weights[name] = w
      }
      engines.push(name)
    }
    if (policy === 'weighted' && !Object.values(weights).some((w) => w > 0))
      throw new Error(`the weighted route of ${model} needs one engine with a weight above 0`)
    out[model] = policy === 'weighted' ? { policy, engines, weights } : { policy, engines }
  }
  return out
}

export function prices(raw: string): Partial<Record<ModelId, number>> {
  const out: Partial<Record<ModelId, number>> = {}
  for (const pair of list(raw)) {
    const [model, usd, ...rest] = pair.split('=').map((part) => part.trim())
    if (!model || usd === undefined || rest.length > 0) throw new Error(`expected model=usd pairs, got '${pair}'`)
    if (!isModelId(model)) throw new Error(`unknown model '${model}'; models: ${MODEL_IDS.join(', ')}`)
    const price = Number(usd)
    if (!Number.isFinite(price) || price < 0 || usd === '')
      throw new Error(`price for ${model} must be a number of US dollars ≥ 0, got '${usd}'`)
    out[model] = price
  }
  return out
}

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/** `250ms`, `5s`, `30m`, `2h`, or a bare number of seconds, to milliseconds. */
export function durationMs(token: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(token.trim())
  if (!match) throw new Error(`'${token}' is not a duration like 0, 500ms, 5s, 5m or 2h`)
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[(match[2] ?? 's') as keyof typeof DURATION_UNITS_MS])
}

export function duration(minMs: number, maxMs: number) {
  return (raw: string): string => {
    const ms = durationMs(raw)
    if (ms < minMs || ms > maxMs)
      throw new Error(`must be between ${minMs / 1000} s and ${maxMs / 3_600_000} h, got '${raw}'`)
    return raw.trim()
  }
}

/**
 * FLUXHOST_RETENTION: `30d`, `12h` (at least an hour, at most ten years), or `off`/empty/`0` for
 * none; milliseconds, or null.
 */
export function retention(raw: string): number | null {
  const value = raw.trim().toLowerCase()
  if (value === '' || value === 'off' || value === '0') return null
  const match = /^(\d+(?:\.\d+)?)(d|h)$/.exec(value)
  if (!match) throw new Error(`must be a number of days or hours like 30d or 12h (or off), got '${raw}'`)
  const ms = Math.round(Number(match[1]) * (match[2] === 'd' ? 86_400_000 : 3_600_000))
  if (ms < 3_600_000 || ms > 3650 * 86_400_000) throw new Error(`must be between 1h and 3650d, got '${raw}'`)
  return ms
}

export function schedule(raw: string): string[] {
  const tokens = list(raw)
  if (tokens.length === 0 || tokens.length > 50) throw new Error('must list 1 to 50 delays, e.g. 0,5s,5m,30m')
  for (const token of tokens) {
    if (durationMs(token) > 7 * 24 * 3_600_000) throw new Error(`'${token}' is longer than 7 days`)
  }
  return tokens
}

export function logLevel(raw: string): LogLevel {
  const value = raw.trim().toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new Error(`must be one of ${LOG_LEVELS.join(', ')}`)
  return value as LogLevel
}
