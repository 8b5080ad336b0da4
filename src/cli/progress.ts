import cliProgress from 'cli-progress'
import type { CliIo } from './io.js'

export interface ProgressDisplay {
  update(fraction: number, state?: string): void
  stop(): void
}

/** A progress bar on a terminal; silence elsewhere (pipes and CI logs stay clean). */
export function progressDisplay(io: CliIo, label: string): ProgressDisplay {
  if (!io.stderr.isTTY) return { update() {}, stop() {} }
  const bar = new cliProgress.SingleBar(
    {
      stream: io.stderr,
      format: `${label} [{bar}] {percentage}% {state}`,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(100, 0, { state: 'queued' })
  return {
    update(fraction, state) {
      bar.update(Math.round(fraction * 100), state === undefined ? {} : { state })
    },
    stop() {
      bar.stop()
    },
  }
}
