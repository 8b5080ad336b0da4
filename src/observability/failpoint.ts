/**
 * Crash points for tests: with `FLUXHOST_FAILPOINT=<name>`, the process kills itself
 * (SIGKILL: no cleanup, no answer) when it reaches `failpoint(<name>)`, so a test can prove
 * what a crash at exactly that point leaves behind. Read once; unset, it costs a compare.
 */
const armed = process.env.FLUXHOST_FAILPOINT ?? ''

export function failpoint(name: string): void {
  if (armed !== '' && armed === name) process.kill(process.pid, 'SIGKILL')
}
