import fs from 'node:fs'
import path from 'node:path'

/** Folders fluxhost keeps: this user only, whatever the umask. */
export const PRIVATE_DIR_MODE = 0o700
/** Files fluxhost keeps (records, images, the server secret): this user only. */
export const PRIVATE_FILE_MODE = 0o600

/**
 * Makes `dir` (created if missing) this user's alone: the folder itself 0700, whatever the
 * umask. Its contents are left as they are: each part makes its own files private (the
 * database, the images, `secret`), and nothing else in it is ours to change. Returns the
 * paths it was not allowed to change (owned by another user), to warn of.
 */
export function makePrivateDir(dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  const refused: string[] = []
  restrict(dir, PRIVATE_DIR_MODE, refused)
  return refused
}

/**
 * Makes the tree at `root` (when it exists) private: every folder 0700 and every file 0600.
 * A folder below `root` that is already 0700 is taken as done (its contents are tightened
 * before it, and fluxhost makes folders 0700), so only the first start after an upgrade
 * visits every file. Symbolic links are left alone. Returns the paths it was not allowed to change.
 */
export function makePrivateTree(root: string): string[] {
  const refused: string[] = []
  tighten(root, refused)
  return refused
}

function tighten(dir: string, refused: string[]): void {
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return // deleted meanwhile (a job's images)
    throw error
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name)
    if (entry.isFile()) restrict(full, PRIVATE_FILE_MODE, refused)
    else if (entry.isDirectory() && modeOf(full) !== PRIVATE_DIR_MODE) tighten(full, refused)
  }
  restrict(dir, PRIVATE_DIR_MODE, refused)
}

/** Sets `mode` on `file` unless it has it; EPERM (not the owner) is noted, not thrown. */
export function restrict(file: string, mode: number, refused: string[] = []): void {
  try {
    const current = modeOf(file)
    if (current !== -1 && current !== mode) fs.chmodSync(file, mode)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EPERM') refused.push(file)
    // Gone meanwhile (a temporary file renamed, a -wal file checkpointed away): nothing to do.
    else if (code !== 'ENOENT') throw error
  }
}

/** The permission bits of `file` (of a link itself, never its target); -1 when it is gone. */
function modeOf(file: string): number {
  try {
    return fs.lstatSync(file).mode & 0o777
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return -1
    throw error
  }
}
