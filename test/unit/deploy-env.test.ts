import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { addSettingOptions, configFrom, flagValues } from '../../src/cli/settings-options.js'
import { ConfigError, loadConfig } from '../../src/config/load-config.js'
import { SETTINGS } from '../../src/config/settings.js'

// The files under deploy/ as an operator uses them (docs/deploy.md): the environment file
// loaded the way systemd loads an EnvironmentFile=, the units, and the Procfile's commands
// with the environment a platform gives them.

const ROOT = path.resolve(import.meta.dirname, '../..')
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8')
const ENV_FILE = 'deploy/fluxhost.env'
const UNITS = { 'deploy/fluxhost-api.service': 'serve', 'deploy/fluxhost-worker.service': 'worker' } as const
const PROCFILE = 'deploy/Procfile'
/** Where docs/deploy.md has the operator install the environment file. */
const INSTALLED_ENV_FILE = '/etc/fluxhost/fluxhost.env'

const WHITESPACE = ' \t\n\r'
const NEWLINE = '\n\r'
/** Inside double quotes, a backslash before one of these keeps just the character. */
const ESCAPABLE = '"\\`$'

type State = 'preKey' | 'key' | 'preValue' | 'value' | 'escape' | 'single' | 'double' | 'doubleEscape' | 'comment'

/**
 * An environment file as systemd reads it for EnvironmentFile= (systemd.exec(5); the state
 * machine of systemd's src/basic/env-file.c). Lines starting with # or ; are comments (a #
 * after a value is part of the value); `KEY=VALUE`, whitespace around the key and the value
 * dropped; '…' verbatim, "…" with backslash escapes; a trailing backslash continues the
 * line; lines without = are ignored. Nothing is expanded or run: `$` is a character like
 * any other. Assignments to names that are not variable names are dropped, as systemd does
 * (with a warning). systemd before v254 also continued a comment that ends in a backslash:
 * the file has none (tested below), so both read it the same.
 */
function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {}
  let state: State = 'preKey'
  let key = ''
  let value = ''
  let keyBlankFrom = -1 // where the key's trailing whitespace starts
  let valueBlankFrom = -1 // where the unquoted value's trailing whitespace starts
  const push = (chomp: boolean) => {
    const name = keyBlankFrom >= 0 ? key.slice(0, keyBlankFrom) : key
    const content = chomp && valueBlankFrom >= 0 ? value.slice(0, valueBlankFrom) : value
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !/[\x00-\x08\x0b-\x1f\x7f]/.test(content)) env[name] = content
    key = ''
    value = ''
  }
  for (const c of text) {
    switch (state) {
      case 'preKey':
        if (c === '#' || c === ';') state = 'comment'
        else if (!WHITESPACE.includes(c)) {
          state = 'key'
          key = c
          keyBlankFrom = -1
        }
        break
      case 'key':
        if (NEWLINE.includes(c)) {
          state = 'preKey'
          key = ''
        } else if (c === '=') {
          state = 'preValue'
          valueBlankFrom = -1
        } else {
          if (!WHITESPACE.includes(c)) keyBlankFrom = -1
          else if (keyBlankFrom < 0) keyBlankFrom = key.length
          key += c
        }
        break
      case 'preValue':
        if (NEWLINE.includes(c)) {
          state = 'preKey'
          push(false)
        } else if (c === "'") state = 'single'
        else if (c === '"') state = 'double'
        else if (c === '\\') state = 'escape'
        else if (!WHITESPACE.includes(c)) {
          state = 'value'
          value += c
        }
        break
      case 'value':
        if (NEWLINE.includes(c)) {
          state = 'preKey'
          push(true)
        } else if (c === '\\') {
          state = 'escape'
          valueBlankFrom = -1
        } else {
          if (!WHITESPACE.includes(c)) valueBlankFrom = -1
          else if (valueBlankFrom < 0) valueBlankFrom = value.length
          value += c
        }
        break
      case 'escape':
        // A backslash keeps the next character; before a newline it joins the lines.
        state = 'value'
        if (!NEWLINE.includes(c)) value += c
        break
      case 'single':
        if (c === "'") state = 'preValue'
        else value += c
        break
      case 'double':
        if (c === '"') state = 'preValue'
        else if (c === '\\') state = 'doubleEscape'
        else value += c
        break
      case 'doubleEscape':
        state = 'double'
        if (ESCAPABLE.includes(c)) value += c
        else if (c !== '\n') value += `\\${c}`
        break
      case 'comment':
        if (NEWLINE.includes(c)) state = 'preKey'
        break
    }
  }
  if (state !== 'preKey' && state !== 'key' && state !== 'comment') push(state === 'value')
  return env
}

/** What docs/deploy.md has the operator put in place of each <…> (the secret: `openssl rand -hex 32`). */
const SECRET = randomBytes(32).toString('hex')
const FILL: Record<string, string> = {
  '<password>': 'correct%40horse',
  '<db-host>': 'db.internal',
  '<bucket>': 'acme-fluxhost-images',
  '<region>': 'eu-central-1',
  '<64 hex digits>': SECRET,
  '<public-host>': 'images.example.com',
}
const filled = (text: string) => Object.entries(FILL).reduce((out, [from, to]) => out.replaceAll(from, to), text)
const placeholders = (env: Record<string, string>) =>
  [...new Set(Object.values(env).flatMap((value) => value.match(/<[^<>]*>/g) ?? []))].sort()

/** The fenced code blocks of a Markdown text, each as the file it shows (ending in a newline). */
const codeBlocks = (markdown: string) =>
  [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```$/gm)].map((match) => match[1]!)

/** A unit file's `Key=value` lines (every section; comments dropped). */
const unitEntries = (text: string) =>
  new Map(
    text
      .split('\n')
      .map((line) => /^([A-Za-z]+)=(.*)$/.exec(line))
      .filter((match) => match !== null)
      .map((match) => [match[1]!, match[2]!]),
  )

/** The config a `fluxhost <command> [flags]` gets, parsing its flags as the CLI does. */
function configOf(args: string[], env: Record<string, string | undefined>) {
  const [command, ...flags] = args
  expect(['serve', 'worker']).toContain(command)
  const parsed = addSettingOptions(new Command(command).exitOverride()).parse(flags, { from: 'user' })
  return loadConfig(env, flagValues(parsed.opts()), { cwd: '/app' })
}

describe('the EnvironmentFile parser used here reads files as systemd does', () => {
  it('keeps a # after a value, runs nothing, and drops whitespace around keys and values', () => {
    const text = [
      '# a comment',
      '; another',
      '   # an indented one',
      'A=1 # not a comment',
      'B=$(openssl rand -hex 32)',
      ' C  =  spaced  value  ',
      'D="a \\"b\\" \\$c \\x"  ',
      "E='x \\ y'",
      'F=one\\',
      'two',
      'no equals sign',
      'G=',
      'bad-name=1',
      'A=2',
      'H=last',
    ].join('\n')
    expect(parseEnvironmentFile(text)).toEqual({
      A: '2',
      B: '$(openssl rand -hex 32)',
      C: 'spaced  value',
      D: 'a "b" $c \\x',
      E: 'x \\ y',
      F: 'onetwo',
      G: '',
      H: 'last',
    })
    expect(parseEnvironmentFile('A=1 # comment')).toEqual({ A: '1 # comment' })
  })

  it('reproduces issue 13: the inline comments and $(…) of the old env block reach fluxhost', () => {
    const old = parseEnvironmentFile(
      [
        'FLUXHOST_DATABASE_LISTEN=1                   # 0 behind a pooler that cannot LISTEN',
        'FLUXHOST_S3_REGION=eu-central-1               # or FLUXHOST_S3_ENDPOINT=https://minio.internal:9000',
        'FLUXHOST_FILE_URL_SECRET=$(openssl rand -hex 32)   # optional',
      ].join('\n'),
    )
    expect(old.FLUXHOST_S3_REGION).toBe(
      'eu-central-1               # or FLUXHOST_S3_ENDPOINT=https://minio.internal:9000',
    )
    expect(() => loadConfig(old)).toThrow(/FLUXHOST_DATABASE_LISTEN[\s\S]*FLUXHOST_FILE_URL_SECRET/)
  })
})

describe(`${ENV_FILE}, as systemd loads it`, () => {
  const text = read(ENV_FILE)
  const env = parseEnvironmentFile(text)

  it('has comments only on lines of their own, and values that need no quoting', () => {
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue
      expect(line).toMatch(/^[A-Z][A-Z0-9_]*=(\S([^\n]*\S)?)?$/)
      expect(line).not.toMatch(/["'\\$`]|\s#/)
    }
    // systemd before v254 would continue such a comment onto the next line.
    expect(text).not.toMatch(/\\$/m)
    expect(text.endsWith('\n')).toBe(true)
  })

  it('names only settings fluxhost reads, set or commented out', () => {
    const known = new Set<string>([
      ...Object.values(SETTINGS).map((setting) => setting.env),
      'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
    ])
    const named = [...text.matchAll(/^#?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!)
    expect(named.length).toBeGreaterThan(10)
    expect(named.filter((name) => !known.has(name))).toEqual([])
    expect(named.filter((name, i) => named.indexOf(name) !== i)).toEqual([])
  })

  it('marks every value the operator must fill with <…>, and fluxhost refuses the first three left unfilled', () => {
    expect(placeholders(env)).toEqual(Object.keys(FILL).sort())
    let problems: string[] = []
    try {
      loadConfig(env)
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      problems = (error as ConfigError).problems
    }
    expect(problems.map((problem) => problem.split(' ')[0]).sort()).toEqual([
      'DATABASE_URL',
      'FLUXHOST_FILE_URL_SECRET',
      'FLUXHOST_PUBLIC_URL',
    ])
    // The CLI ends with status 2 then, which the units do not restart (RestartPreventExitStatus=2).
    const io = { env, cwd: '/' } as Parameters<typeof configFrom>[0]
    let code: number | undefined
    try {
      configFrom(io, {})
    } catch (error) {
      code = (error as { code?: number }).code
    }
    expect(code).toBe(2)
  })

  it('filled in as docs/deploy.md says, gives fluxhost clean values it accepts', () => {
    const ready = parseEnvironmentFile(filled(text))
    for (const [name, value] of Object.entries(ready)) {
      expect({ name, value }).toEqual({ name, value: value.trim() })
      expect(value, name).not.toMatch(/#|\$\(|[<>]/)
    }
    const config = loadConfig(ready, {}, { cwd: '/' })
    expect(config.database).toEqual({
      url: 'postgres://fluxhost:correct%40horse@db.internal:5432/fluxhost',
      schema: 'fluxhost',
      listen: true,
    })
    expect(config.s3).toEqual({
      bucket: 'acme-fluxhost-images',
      prefix: 'fluxhost/',
      endpoint: null,
      region: 'eu-central-1',
      credentials: null,
    })
    expect(config.fileDelivery).toBe('proxy')
    expect(config.fileUrlSecret).toBe(SECRET)
    expect(config.publicUrl).toBe('https://images.example.com')
    expect([config.host, config.port]).toEqual(['0.0.0.0', 8080])
    expect(config.dataDir).toBe('/var/lib/fluxhost')
    expect(config.worker.concurrency).toBe(2)
    expect(config.notices).toEqual([])
  })

  it('still loads with every commented-out setting put back as it stands', () => {
    const all = parseEnvironmentFile(filled(text).replace(/^#(?=[A-Z][A-Z0-9_]*=)/gm, ''))
    expect(Object.keys(all).length).toBeGreaterThan(Object.keys(env).length)
    const config = loadConfig(all, {}, { cwd: '/' })
    expect(config.s3?.endpoint).toBe('https://minio.internal:9000')
    expect(config.comfyui?.url).toBe('http://127.0.0.1:8188')
  })
})

describe('the systemd units', () => {
  const env = parseEnvironmentFile(filled(read(ENV_FILE)))

  for (const [file, command] of Object.entries(UNITS)) {
    it(`${file} loads ${INSTALLED_ENV_FILE} and runs \`fluxhost ${command}\` with it`, () => {
      const unit = unitEntries(read(file))
      expect(unit.get('EnvironmentFile')).toBe(INSTALLED_ENV_FILE)
      expect(`/var/lib/${unit.get('StateDirectory')}`).toBe(env.FLUXHOST_DATA_DIR)
      expect(unit.get('RestartPreventExitStatus')).toBe('2')
      const [node, bin, ...args] = unit.get('ExecStart')!.split(' ')
      expect([node, bin]).toEqual(['/usr/bin/node', '/opt/fluxhost/bin/fluxhost.js'])
      expect(args[0]).toBe(command)
      const config = configOf(args, env)
      expect(config.worker.enabled).toBe(command === 'worker')
    })
  }

  it(`and the environment file's header name the same path (${INSTALLED_ENV_FILE})`, () => {
    expect(read(ENV_FILE)).toContain(`# Install it as ${INSTALLED_ENV_FILE}`)
  })
})

describe(PROCFILE, () => {
  const lines = read(PROCFILE)
    .split('\n')
    .filter((line) => line !== '')
  const processes = new Map(
    lines.map((line) => {
      const match = /^([A-Za-z0-9_-]+):\s*(.+)$/.exec(line)
      expect(match, line).not.toBeNull()
      return [match![1]!, match![2]!.split(/\s+/)]
    }),
  )

  it("runs the web process on the platform's PORT, on every address", () => {
    const [node, bin, ...args] = processes.get('web')!
    expect(node).toBe('node')
    expect(fs.existsSync(path.join(ROOT, bin!))).toBe(true)
    // What the platform's shell would expand, were there a $PORT in the line.
    const platform = { PORT: '5000' }
    const expanded = args.map((arg) => arg.replaceAll('$PORT', platform.PORT))
    const config = configOf(expanded, platform)
    expect([config.host, config.port]).toEqual(['0.0.0.0', 5000])
    expect(config.worker.enabled).toBe(false)
    // FLUXHOST_PORT would win over PORT (docs/deploy.md says to leave it out there).
    expect(configOf(expanded, { ...platform, FLUXHOST_PORT: '8080' }).port).toBe(8080)
  })

  it('runs workers with the worker command', () => {
    const [node, bin, ...args] = processes.get('worker')!
    expect([node, bin]).toEqual(['node', 'bin/fluxhost.js'])
    expect(configOf(args, {}).worker.enabled).toBe(true)
  })
})

describe('docs/deploy.md', () => {
  const doc = read('docs/deploy.md')

  for (const file of [ENV_FILE, ...Object.keys(UNITS), PROCFILE]) {
    it(`links ${file} and shows it as it is`, () => {
      expect(doc).toContain(`](../${file})`)
      expect(codeBlocks(doc)).toContain(read(file))
    })
  }

  it(`installs the environment file at ${INSTALLED_ENV_FILE}, and says how to make the secret`, () => {
    const prose = doc.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '')
    expect(prose).toContain(INSTALLED_ENV_FILE)
    expect(prose).toContain('openssl rand -hex 32')
  })
})
