import fs from 'node:fs'
import path from 'node:path'
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { addSettingOptions, flagValues } from '../../src/cli/settings-options.js'
import { environmentHelp } from '../../src/config/help.js'
import { ConfigError, loadConfig } from '../../src/config/load-config.js'
import { SETTINGS } from '../../src/config/settings.js'

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({}, {}, { cwd: '/srv' })
    expect(config.host).toBe('127.0.0.1')
    expect(config.port).toBe(8080)
    expect(config.dataDir).toBe(path.resolve('/srv', '.fluxhost'))
    expect(config.apiKeys).toEqual([])
    expect(config.publicUrl).toBeNull()
    expect(config.worker).toEqual({
      enabled: true,
      concurrency: 2,
      leaseMs: 30_000,
      maxAttempts: 3,
      shutdownGraceMs: 10_000,
    })
    expect(config.fileUrlTtlS).toBe(3600)
    expect(config.pricesUsd['flux-pro-1.1']).toBe(0.04)
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('reads FLUXHOST_* and lets flags win', () => {
    const config = loadConfig(
      {
        FLUXHOST_PORT: '9000',
        FLUXHOST_API_KEYS: ' a, b ,,c',
        FLUXHOST_PUBLIC_URL: 'https://img.example.com/',
        FLUXHOST_WORKER: 'false',
        FLUXHOST_PRICES: 'flux-pro-1.1=0.05',
      },
      { port: '9001' },
    )
    expect(config.port).toBe(9001)
    expect(config.apiKeys).toEqual(['a', 'b', 'c'])
    expect(config.publicUrl).toBe('https://img.example.com')
    expect(config.worker.enabled).toBe(false)
    expect(config.pricesUsd['flux-pro-1.1']).toBe(0.05)
  })

  it('reports every bad key at once, naming each', () => {
    try {
      loadConfig({
        FLUXHOST_PORT: 'eighty',
        FLUXHOST_WORKER_CONCURRENCY: '0',
        FLUXHOST_PUBLIC_URL: 'ftp://x',
        FLUXHOST_PRICES: 'flux-9=1',
      })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      const problems = (error as ConfigError).problems.join('\n')
      for (const name of ['FLUXHOST_PORT', 'FLUXHOST_WORKER_CONCURRENCY', 'FLUXHOST_PUBLIC_URL', 'FLUXHOST_PRICES'])
        expect(problems).toContain(name)
    }
    expect(() => loadConfig({}, { port: '-1' })).toThrow(/--port/)
  })

  it('checks the scale-out settings: service URLs, schema, bucket keys, file delivery, secret', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env)
        return ''
      } catch (error) {
        return (error as ConfigError).problems.join('\n')
      }
    }
    const all = problems({ DATABASE_URL: 'mysql://db/x', FLUXHOST_DATABASE_LISTEN: 'maybe' })
    expect(all).toContain("DATABASE_URL must be a postgres:// or postgresql:// URL, got 'mysql://…'")
    expect(all).toContain("FLUXHOST_DATABASE_LISTEN must be true or false (or 1/0), got 'maybe'")
    expect(problems({ FLUXHOST_DATABASE_SCHEMA: 'Bad-Name' })).toMatch(
      /FLUXHOST_DATABASE_SCHEMA must be a lower-case SQL identifier/,
    )
    expect(problems({ FLUXHOST_FILE_URL_SECRET: 'short' })).toMatch(/FLUXHOST_FILE_URL_SECRET must be 64 hex digits/)
    expect(problems({ FLUXHOST_S3_BUCKET: 'b', FLUXHOST_S3_ACCESS_KEY_ID: 'k' })).toMatch(/set both or neither/)
    expect(problems({ FLUXHOST_FILE_DELIVERY: 'redirect' })).toMatch(/needs FLUXHOST_S3_BUCKET/)
    const ok = loadConfig({
      DATABASE_URL: 'postgres://u@db/x',
      FLUXHOST_DATABASE_SCHEMA: 'fh',
      FLUXHOST_S3_BUCKET: 'b',
      FLUXHOST_S3_PREFIX: 'p/',
      FLUXHOST_FILE_DELIVERY: 'redirect',
    })
    expect(ok.database).toEqual({ url: 'postgres://u@db/x', schema: 'fh', listen: true })
    expect(ok.notices).toEqual([])
    expect(ok.s3).toMatchObject({ bucket: 'b', prefix: 'p/', region: 'us-east-1', credentials: null })
  })

  it('reads FLUXHOST_RETENTION in days or hours, off by default', () => {
    expect(loadConfig({}).retentionMs).toBeNull()
    expect(loadConfig({ FLUXHOST_RETENTION: '30d' }).retentionMs).toBe(30 * 86_400_000)
    expect(loadConfig({ FLUXHOST_RETENTION: '36h' }).retentionMs).toBe(36 * 3_600_000)
    expect(loadConfig({ FLUXHOST_RETENTION: 'off' }).retentionMs).toBeNull()
    expect(loadConfig({ FLUXHOST_RETENTION: '30d' }, { retention: '7d' }).retentionMs).toBe(7 * 86_400_000)
    expect(() => loadConfig({ FLUXHOST_RETENTION: '30' })).toThrow(/FLUXHOST_RETENTION must be a number of days/)
    expect(() => loadConfig({ FLUXHOST_RETENTION: '30m' })).toThrow(/FLUXHOST_RETENTION must be a number of days/)
    expect(() => loadConfig({}, { retention: '0.5h' })).toThrow(/--retention must be between 1h and 3650d/)
  })

  it('says which retired settings it no longer reads, instead of ignoring them silently', () => {
    const config = loadConfig({ REDIS_URL: 'redis://r:6379', FLUXHOST_QUEUE: 'bullmq' })
    expect(config.notices).toHaveLength(2)
    expect(config.notices[0]).toMatch(/REDIS_URL is set but no longer used: .*LISTEN\/NOTIFY/)
    expect(config.notices[1]).toMatch(/FLUXHOST_QUEUE is set but no longer used/)
  })

  it('documents every key in docs/configuration.md and in --help', () => {
    const doc = fs.readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
    const help = environmentHelp()
    for (const setting of Object.values(SETTINGS)) {
      expect(doc, setting.env).toContain(`\`${setting.env}\``)
      expect(doc, setting.flag).toContain(`--${setting.flag}`)
      expect(help).toContain(setting.env)
    }
  })
})

describe('loadConfig reads the files settings name', () => {
  const files: Record<string, string> = {
    '/etc/fluxhost/blocklist.txt': 'clown\nspider = 2\n',
    '/etc/fluxhost/flow.json': JSON.stringify({ '1': { class_type: 'X', inputs: { text: '{{prompt}}' } } }),
    '/etc/fluxhost/img2img.json': JSON.stringify({ '1': { class_type: 'X', inputs: { text: '{{prompt}}' } } }),
    '/etc/fluxhost/ui.json': JSON.stringify({ nodes: [], links: [] }),
  }
  const readFile = (file: string) => {
    const text = files[file]
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' })
    return text
  }

  it('parses them into the config', () => {
    const config = loadConfig(
      {
        FLUXHOST_PROMPT_BLOCKLIST: 'blocklist.txt',
        FLUXHOST_COMFYUI_URL: 'http://127.0.0.1:8188',
        FLUXHOST_COMFYUI_WORKFLOW: 'flow.json',
      },
      {},
      { cwd: '/etc/fluxhost', readFile },
    )
    expect(config.safety.blocklist).toEqual({
      file: '/etc/fluxhost/blocklist.txt',
      terms: [
        { term: 'clown', upTo: 6 },
        { term: 'spider', upTo: 2 },
      ],
    })
    expect(config.comfyui?.workflow).toMatchObject({ file: '/etc/fluxhost/flow.json' })
  })

  it('reports every problem at once: values, contradictions and files', () => {
    let problems: string[] = []
    try {
      loadConfig(
        {
          FLUXHOST_PORT: 'eighty',
          FLUXHOST_FILE_DELIVERY: 'redirect',
          FLUXHOST_ROUTES: 'flux-dev=bfl',
          FLUXHOST_PROMPT_BLOCKLIST: 'missing.txt',
          FLUXHOST_COMFYUI_URL: 'http://127.0.0.1:8188',
          FLUXHOST_COMFYUI_WORKFLOW: 'ui.json',
          FLUXHOST_COMFYUI_IMG2IMG_WORKFLOW: 'img2img.json',
        },
        {},
        { cwd: '/etc/fluxhost', readFile },
      )
    } catch (error) {
      problems = (error as ConfigError).problems
    }
    expect(problems).toEqual([
      "FLUXHOST_PORT must be a whole number, got 'eighty'",
      'FLUXHOST_ROUTES names bfl, but FLUXHOST_BFL_API_KEY is not set',
      'FLUXHOST_FILE_DELIVERY=redirect needs FLUXHOST_S3_BUCKET: files on disk are always served by fluxhost',
      'FLUXHOST_PROMPT_BLOCKLIST /etc/fluxhost/missing.txt: no such file',
      expect.stringMatching(/^FLUXHOST_COMFYUI_WORKFLOW \/etc\/fluxhost\/ui.json: .*UI format/),
      expect.stringMatching(/^FLUXHOST_COMFYUI_IMG2IMG_WORKFLOW .*needs an \{\{image\}\} placeholder/),
    ])
  })
})

describe('PORT, as platforms set it', () => {
  it('is the port when FLUXHOST_PORT is unset, and then the server listens on every address', () => {
    expect(loadConfig({ PORT: '5000' })).toMatchObject({ port: 5000, host: '0.0.0.0' })
    expect(loadConfig({ PORT: '5000', FLUXHOST_HOST: '10.0.0.5' })).toMatchObject({ port: 5000, host: '10.0.0.5' })
    expect(loadConfig({ PORT: '5000', FLUXHOST_PORT: '6000' })).toMatchObject({ port: 6000, host: '127.0.0.1' })
    expect(loadConfig({}, { port: '7000' }, {})).toMatchObject({ port: 7000, host: '127.0.0.1' })
  })

  it('a bad PORT is reported as PORT', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT must be a whole number/)
    expect(() => loadConfig({ PORT: 'eighty' })).not.toThrow(/FLUXHOST_PORT/)
  })

  it('the header limit may not outlast the request limit', () => {
    expect(() => loadConfig({ FLUXHOST_HEADERS_TIMEOUT: '60s', FLUXHOST_REQUEST_TIMEOUT: '30s' })).toThrow(
      /FLUXHOST_HEADERS_TIMEOUT must not be longer than FLUXHOST_REQUEST_TIMEOUT/,
    )
  })
})

describe("FLUXHOST_TRUST_PROXY, as Fastify's trustProxy takes it", () => {
  const trust = (raw: string) => loadConfig({ FLUXHOST_TRUST_PROXY: raw }).http.trustProxy

  it('is off by default; takes true/false, a hop count, or addresses and CIDR ranges', () => {
    expect(loadConfig({}).http.trustProxy).toBe(false)
    for (const raw of ['', 'false', 'off', '0']) expect(trust(raw), raw).toBe(false)
    for (const raw of ['true', 'yes', 'ON']) expect(trust(raw), raw).toBe(true)
    expect(trust('1')).toBe(1)
    expect(trust('3')).toBe(3)
    expect(trust(' 10.0.0.5, 10.1.0.0/16 ,fd00::/8,::1, loopback')).toEqual([
      '10.0.0.5',
      '10.1.0.0/16',
      'fd00::/8',
      '::1',
      'loopback',
    ])
    expect(loadConfig({}, { trustProxy: '192.168.1.1' }).http.trustProxy).toEqual(['192.168.1.1'])
  })

  it.each([
    ['10.0.0.300', /'10\.0\.0\.300' is not an IP address or a CIDR range/],
    ['10.0.0.0/33', /'10\.0\.0\.0\/33' has a bad prefix length: it must be 0 to 32/],
    ['fd00::/129', /must be 0 to 128/],
    ['proxy.internal', /'proxy\.internal' is not an IP address/],
    ['10.0.0.0/8/1', /not an IP address or a CIDR range/],
    ['40', /as a hop count must be between 1 and 32/],
  ])('refuses %s, naming the setting and the entry', (raw, message) => {
    expect(() => trust(raw)).toThrow(ConfigError)
    expect(() => trust(raw)).toThrow(/FLUXHOST_TRUST_PROXY/)
    expect(() => trust(raw)).toThrow(message)
  })
})

describe('--trust-proxy on the command line', () => {
  const parsed = (...args: string[]) => {
    const command = addSettingOptions(new Command().exitOverride(), ['trustProxy'])
    command.parse(args, { from: 'user' })
    return loadConfig({}, flagValues(command.opts())).http.trustProxy
  }

  it('takes a value, and given bare (as when it was a boolean flag) means true; --no-trust-proxy off', () => {
    expect(parsed('--trust-proxy', '10.0.0.0/8')).toEqual(['10.0.0.0/8'])
    expect(parsed('--trust-proxy', '1')).toBe(1)
    expect(parsed('--trust-proxy')).toBe(true)
    expect(parsed('--no-trust-proxy')).toBe(false)
    expect(parsed()).toBe(false)
  })
})

describe('FLUXHOST_CORS_ORIGINS', () => {
  const origins = (raw: string) => loadConfig({ FLUXHOST_CORS_ORIGINS: raw }).http.corsOrigins

  it('is off by default; takes * or origins, spelled as a browser sends them', () => {
    expect(loadConfig({}).http.corsOrigins).toBeNull()
    expect(origins(' ')).toBeNull()
    expect(origins('*')).toBe('*')
    expect(origins('https://App.Example.com/, http://localhost:5173,https://app.example.com:443')).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
    ])
    expect(origins('http://[::1]:8080')).toEqual(['http://[::1]:8080'])
    expect(Object.isFrozen(origins('https://a.example'))).toBe(true)
  })

  it.each([
    ['app.example.com', /'app\.example\.com' is not an origin like https:\/\/app\.example\.com/],
    ['ftp://files.example.com', /not an http or https origin/],
    ['https://app.example.com/path', /scheme, host and port only/],
    ['https://app.example.com?x=1', /scheme, host and port only/],
    ['https://user@app.example.com', /scheme, host and port only/],
    ['https://*.example.com', /wildcards are not supported/],
    ['null', /'null' is not an origin/],
    ['*,https://a.example', /must be \* alone/],
  ])('refuses %s with a clear error', (raw, message) => {
    expect(() => origins(raw)).toThrow(/FLUXHOST_CORS_ORIGINS/)
    expect(() => origins(raw)).toThrow(message)
  })
})
