import type { EngineEntry } from '../engine.js'
import { createComfyUiEngine } from './comfyui-engine.js'
import { resolveWorkflows } from './workflows.js'

/** A local ComfyUI, with FLUXHOST_COMFYUI_URL. */
export const comfyuiEntry: EngineEntry = {
  name: 'comfyui',
  create: ({ comfyui }) =>
    comfyui
      ? createComfyUiEngine({
          url: comfyui.url,
          workflows: resolveWorkflows(comfyui.workflow, comfyui.img2imgWorkflow),
          maxQueued: comfyui.maxQueued,
          pollMs: comfyui.pollMs,
        })
      : undefined,
}
