import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { type BlobStore, contentTypeForKey, isValidKey } from '../blob-store.js'
import { makePrivateTree, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './private-dir.js'

/**
 * Files under one root directory. Nothing outside the root can be named by any key. Folders
 * are made 0700 and files 0600 (private-dir.ts), whatever the umask; ones left looser by an
 * older version are tightened when the store is made.
 */
export function createFsBlobStore(root: string): BlobStore {
  const base = path.resolve(root)
  // A file of another user's is left as it is: the data dir above it is 0700 all the same.
  makePrivateTree(base)

  const resolve = (key: string): string => {
    if (!isValidKey(key)) throw new Error(`invalid blob key`)
    const full = path.resolve(base, key)
    // isValidKey already forbids '..'; this is the second lock on the same door.
    if (!full.startsWith(base + path.sep)) throw new Error('blob key escapes the store')
    return full
  }

  const statFile = async (file: string) => {
    try {
      const stat = await fsp.stat(file)
      return stat.isFile() ? stat : undefined
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
  }

  return {
    async put(key, data) {
      const file = resolve(key)
      await fsp.mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE })
      const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`
      try {
        // 'wx' with the mode: the file is private from its first byte (a umask can only narrow it).
        await fsp.writeFile(temp, data, { mode: PRIVATE_FILE_MODE, flag: 'wx' })
        await fsp.rename(temp, file)
      } catch (error) {
        await fsp.rm(temp, { force: true })
        throw error
      }
    },

    async stat(key) {
      if (!isValidKey(key)) return undefined
      const stat = await statFile(resolve(key))
      return stat ? { size: stat.size, contentType: contentTypeForKey(key) } : undefined
    },

    async read(key) {
      if (!isValidKey(key)) return undefined
      try {
        return await fsp.readFile(resolve(key))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw error
      }
    },

    async stream(key) {
      if (!isValidKey(key)) return undefined
      const file = resolve(key)
      const stat = await statFile(file)
      if (!stat) return undefined
      return { body: fs.createReadStream(file), info: { size: stat.size, contentType: contentTypeForKey(key) } }
    },

    async delete(key) {
      if (!isValidKey(key)) return
      await fsp.rm(resolve(key), { force: true })
    },

    async deletePrefix(prefix) {
      if (!isValidKey(prefix)) return
      await fsp.rm(resolve(prefix), { recursive: true, force: true })
    },
  }
}
