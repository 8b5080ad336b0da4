import type { EngineEntry } from '../engine.js'
import { createSdcppEngine } from './sdcpp-engine.js'

/** stable-diffusion.cpp's sd-server, with FLUXHOST_SDCPP_URL. */
export const sdcppEntry: EngineEntry = {
  name: 'sdcpp',
  create: ({ sdcpp }) =>
    sdcpp
      ? createSdcppEngine({ url: sdcpp.url, maxQueued: sdcpp.maxQueued, steps: sdcpp.steps ?? undefined })
      : undefined,
}
