import { randomBytes } from 'node:crypto'
import os from 'node:os'

/**
 * A lease owner id names the process holding a job: `host:pid:token`. The token tells
 * this incarnation from an earlier one that had the same pid (a restarted container is
 * always pid 1).
 */
export function newOwnerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
}

/**
 * A lease token names one claim: `<owner id>/<claim token>`. A job's lease is held by the
 * claim, not the process: a process that was paused past its lease and whose job was taken
 * and claimed again (by any process, itself included) can no longer write with the old one.
 */
export function newLeaseToken(owner: string): string {
  return `${owner}/${randomBytes(8).toString('hex')}`
}

/** The owner id of the process that made a lease token (an owner id is its own). */
export function ownerOf(lease: string): string {
  const slash = lease.lastIndexOf('/')
  return slash < 0 ? lease : lease.slice(0, slash)
}

/**
 * True when the owner (a process's id, or a lease token it made) certainly no longer runs:
 * it was on this host and its process is gone, or it had our pid but another token.
 * Anything else (other hosts, a live pid, an unparsable id) is left to lease expiry.
 */
export function isOwnerDead(owner: string, self: string): boolean {
  const [host, pidText, token] = ownerOf(owner).split(':')
  const [selfHost, selfPid, selfToken] = ownerOf(self).split(':')
  if (!host || !pidText || !token || host !== selfHost) return false
  const pid = Number(pidText)
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (pidText === selfPid) return token !== selfToken
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    // EPERM: the pid exists but belongs to someone else, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}
