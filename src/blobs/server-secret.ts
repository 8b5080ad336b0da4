import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, restrict } from './fs/private-dir.js'

/**
 * The server's signing secret, created on first start and kept in the data dir (mode
 * 0600, set again on every start), so file URLs stay valid across restarts; webhook secrets
 * are sealed under a key derived from it (secret-box.ts).
 */
export function loadOrCreateSecret(file: string): Buffer {
  try {
    const text = fs.readFileSync(file, 'utf8').trim()
    if (/^[0-9a-f]{64}$/.test(text)) {
      restrict(file, PRIVATE_FILE_MODE)
      return Buffer.from(text, 'hex')
    }
    throw new Error(`${file} does not hold a 64-digit hex secret; delete it to make a new one`)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE })
  const secret = randomBytes(32)
  try {
    // 'wx': if another process created it first, use theirs.
    fs.writeFileSync(file, `${secret.toString('hex')}\n`, { mode: PRIVATE_FILE_MODE, flag: 'wx' })
    return secret
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateSecret(file)
    throw error
  }
}
