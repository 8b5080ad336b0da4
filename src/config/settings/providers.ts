import { ENGINE_NAMES, type EngineName, isEngineName, PROVIDER_NAMES, type ProviderName } from '../../domain/engines.js'
import { isModelId, MODEL_IDS, type ModelId } from '../../domain/models.js'
import { boolean, list, optionalText, publicUrl, type Setting } from '../parsers.js'

/** A provider's API host: an absolute http(s) URL. */
function apiUrl(raw: string): string {
  const url = publicUrl(raw)
  if (url === null) throw new Error('must be an absolute http(s) URL')
  return url
}

const HOSTS: Record<ProviderName, { host: string; keyEnv: string; what: string }> = {
  fal: { host: 'https://queue.fal.run', keyEnv: 'FLUXHOST_FAL_KEY', what: "fal.ai's queue API" },
  replicate: {
    host: 'https://api.replicate.com',
    keyEnv: 'FLUXHOST_REPLICATE_TOKEN',
    what: "Replicate's predictions API",
  },
  together: { host: 'https://api.together.xyz', keyEnv: 'FLUXHOST_TOGETHER_KEY', what: "Together AI's images API" },
  aiml: { host: 'https://api.aimlapi.com', keyEnv: 'FLUXHOST_AIML_KEY', what: 'the AIML API' },
  apiframe: { host: 'https://api.apiframe.ai', keyEnv: 'FLUXHOST_APIFRAME_KEY', what: "Apiframe's v2 API" },
  seaart: { host: 'https://cloud.seaart.ai/model', keyEnv: 'FLUXHOST_SEAART_KEY', what: "SeaArt's model queue API" },
}

/** The env name of a provider's key setting (FLUXHOST_REPLICATE_TOKEN, FLUXHOST_FAL_KEY, …). */
export const PROVIDER_KEY_ENV = Object.fromEntries(PROVIDER_NAMES.map((p) => [p, HOSTS[p].keyEnv])) as Record<
  ProviderName,
  string
>

function providerSettings<P extends ProviderName>(provider: P) {
  const { host, keyEnv, what } = HOSTS[provider]
  const upper = provider.toUpperCase()
  return {
    [`${provider}Key`]: {
      env: keyEnv as `FLUXHOST_${string}`,
      flag: keyEnv.slice('FLUXHOST_'.length).toLowerCase().replaceAll('_', '-'),
      kind: 'string',
      default: null as string | null,
      describe: `API key for ${what}: with it, the \`${provider}\` engine serves the models it sells.`,
      parse: optionalText,
    },
    [`${provider}Url`]: {
      env: `FLUXHOST_${upper}_URL`,
      flag: `${provider}-url`,
      kind: 'string',
      default: host,
      describe: `Base URL of ${what} (default ${host}); point it at a proxy or an emulator.`,
      parse: apiUrl,
    },
  } as Record<`${P}Key`, PlainSetting<string | null>> & Record<`${P}Url`, PlainSetting<string>>
}

/** A setting with no fallback name or bare flag (so the loader's checks narrow it). */
type PlainSetting<T> = Omit<Setting<T>, 'fallbackEnv' | 'bareFlag'>

/** `fal=8,replicate=4` → per engine numbers (concurrency limits, prices). */
function perEngine(what: string, check: (value: number) => boolean) {
  return (raw: string): Partial<Record<EngineName, number>> => {
    const out: Partial<Record<EngineName, number>> = {}
    for (const pair of list(raw)) {
      const [name, value, ...rest] = pair.split('=').map((part) => part.trim())
      if (!name || value === undefined || rest.length > 0)
        throw new Error(`expected engine=${what} pairs, got '${pair}'`)
      if (!isEngineName(name)) throw new Error(`unknown engine '${name}'; engines: ${ENGINE_NAMES.join(', ')}`)
      const number = Number(value)
      if (value === '' || !check(number)) throw new Error(`${what} for ${name} is not valid: '${value}'`)
      out[name] = number
    }
    return out
  }
}

/** `fal=0.035,replicate/flux-dev=0.03` → prices per engine, for every model or one. */
export function enginePrices(raw: string): Partial<Record<EngineName, Partial<Record<ModelId | '*', number>>>> {
  const out: Partial<Record<EngineName, Partial<Record<ModelId | '*', number>>>> = {}
  for (const pair of list(raw)) {
    const [target, value, ...rest] = pair.split('=').map((part) => part.trim())
    if (!target || value === undefined || rest.length > 0)
      throw new Error(`expected engine=usd or engine/model=usd pairs, got '${pair}'`)
    const [name, model, ...more] = target.split('/')
    if (!name || !isEngineName(name) || more.length > 0)
      throw new Error(`unknown engine '${name ?? target}'; engines: ${ENGINE_NAMES.join(', ')}`)
    if (model !== undefined && !isModelId(model))
      throw new Error(`unknown model '${model}'; models: ${MODEL_IDS.join(', ')}`)
    const price = Number(value)
    if (value === '' || !Number.isFinite(price) || price < 0)
      throw new Error(`the price for ${target} must be US dollars ≥ 0, got '${value}'`)
    out[name] = { ...out[name], [model ?? '*']: price }
  }
  return out
}

/** The hosted sellers of FLUX (docs/engines.md): a key and a base URL each, and what they may cost. */
export const PROVIDER_SETTINGS = {
  ...providerSettings('fal'),
  ...providerSettings('replicate'),
  ...providerSettings('together'),
  ...providerSettings('aiml'),
  ...providerSettings('apiframe'),
  ...providerSettings('seaart'),
  engineConcurrency: {
    env: 'FLUXHOST_ENGINE_CONCURRENCY',
    flag: 'engine-concurrency',
    kind: 'map',
    default: {} as Partial<Record<EngineName, number>>,
    describe:
      'Tasks each hosted engine has in flight at once from this process, e.g. `fal=40,replicate=10` ' +
      '(default 4 each; fal starts new accounts at 2). More wait in fluxhost, where they can be canceled.',
    parse: perEngine('count', (n) => Number.isInteger(n) && n >= 1 && n <= 1000),
  },
  falJwksUrl: {
    env: 'FLUXHOST_FAL_JWKS_URL',
    flag: 'fal-jwks-url',
    kind: 'string',
    default: 'https://rest.alpha.fal.ai/.well-known/jwks.json',
    describe: "Where fal's webhook signing keys are published (a JWKS), for FLUXHOST_PROVIDER_WEBHOOKS.",
    parse: apiUrl,
  },
  providerWebhooks: {
    env: 'FLUXHOST_PROVIDER_WEBHOOKS',
    flag: 'provider-webhooks',
    kind: 'boolean',
    default: false,
    describe:
      'FLUXHOST_PUBLIC_URL is reachable from the internet: BFL, fal and Replicate are asked to call it when ' +
      'a task ends (signed per provider, and an unguessable URL per task), and are polled only as a safety net.',
    parse: boolean,
  },
  enginePrices: {
    env: 'FLUXHOST_ENGINE_PRICES',
    flag: 'engine-prices',
    kind: 'map',
    default: {} as Partial<Record<EngineName, Partial<Record<ModelId | '*', number>>>>,
    describe:
      'What each engine charges you per image in USD, overriding the built-in list (docs/engines.md), ' +
      'e.g. `fal=0.035,replicate/flux-dev=0.03`: the `cheapest` routing policy and the margin in usage use it.',
    parse: enginePrices,
  },
} as const satisfies Record<string, Setting<unknown>>
