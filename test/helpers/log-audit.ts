import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KEY_A, KEY_B } from './keys.js'

/**
 * Global setup of the test run: every in-process test server logs (at info, through the
 * server's own logger and its redaction) to a file in one directory; once the whole suite's
 * traffic has passed, the teardown reads every line and fails the run if one holds a
 * credential: a test API key, a webhook signing secret, or a file URL's signature.
 */
export default function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxhost-test-logs-'))
  process.env.FLUXHOST_TEST_LOG_DIR = dir
  return () => {
    const leaks: string[] = []
    let lines = 0
    for (const name of fs.readdirSync(dir)) {
      for (const line of fs.readFileSync(path.join(dir, name), 'utf8').split('\n')) {
        if (line === '') continue
        lines++
        const leak = CREDENTIALS.find(({ pattern }) => pattern.test(line))
        if (leak && leaks.length < 10) leaks.push(`${leak.what} in ${name}: ${line.slice(0, 300)}`)
      }
    }
    fs.rmSync(dir, { recursive: true, force: true })
    if (leaks.length > 0) throw new Error(`credentials in server logs:\n${leaks.join('\n')}`)
    console.info(`log audit: ${lines} log lines of the test servers hold no credential`)
  }
}

const CREDENTIALS = [
  { what: 'an API key', pattern: new RegExp(`${KEY_A}|${KEY_B}`) },
  { what: 'a webhook signing secret', pattern: /whsec_[A-Za-z0-9+/]{8}/ },
  { what: 'a file URL signature', pattern: /[?&]sig=(?!\[redacted\])[^&"\s]/ },
]
