import { type ComfyGraph, PLACEHOLDER_PATTERN, type Placeholder } from '../../config/comfy-workflow.js'
import type { WorkflowFile } from '../../config/config.js'

export type { ComfyGraph, Placeholder }

export type PlaceholderValues = Record<Placeholder, string | number>

export interface ComfyWorkflows {
  /** `schnell`, `dev`, or the template file's path: for messages. */
  name: string
  txt2img: ComfyGraph
  /** Needs `{{image}}` (the uploaded file's name) and should use `{{denoise}}`. */
  img2img: ComfyGraph | null
  defaults: { steps: number; guidance: number }
}

// FLUX.1 as ComfyUI runs it (reference/local-flux.md §4.1): separate UNet, CLIP-L + T5 and
// VAE files under ComfyUI's models/ folders, Euler with the simple scheduler, cfg 1 (FLUX is
// guidance-distilled; the negative prompt is required by KSampler but unused at cfg 1).
function builtIn(unet: string, withGuidance: boolean, img2img: boolean): ComfyGraph {
  const graph: ComfyGraph = {
    '1': { class_type: 'UNETLoader', inputs: { unet_name: unet, weight_dtype: 'default' } },
    '2': {
      class_type: 'DualCLIPLoader',
      inputs: { clip_name1: 'clip_l.safetensors', clip_name2: 't5xxl_fp16.safetensors', type: 'flux' },
    },
    '3': { class_type: 'VAELoader', inputs: { vae_name: 'ae.safetensors' } },
    '4': { class_type: 'CLIPTextEncode', inputs: { clip: ['2', 0], text: '{{prompt}}' } },
    '5': { class_type: 'CLIPTextEncode', inputs: { clip: ['2', 0], text: '' } },
    '6': {
      class_type: 'EmptySD3LatentImage',
      inputs: { width: '{{width}}', height: '{{height}}', batch_size: '{{batch_size}}' },
    },
    '7': {
      class_type: 'KSampler',
      inputs: {
        model: ['1', 0],
        positive: [withGuidance ? '10' : '4', 0],
        negative: ['5', 0],
        latent_image: ['6', 0],
        seed: '{{seed}}',
        steps: '{{steps}}',
        cfg: 1,
        sampler_name: 'euler',
        scheduler: 'simple',
        denoise: 1,
      },
    },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['7', 0], vae: ['3', 0] } },
    // PreviewImage, not SaveImage: it writes to ComfyUI's temp folder, which ComfyUI empties at
    // every start and exit. ComfyUI has no endpoint that deletes a file, so SaveImage's output/
    // would keep every image forever (fluxhost has its own copy).
    '9': { class_type: 'PreviewImage', inputs: { images: ['8', 0] } },
  }
  if (withGuidance)
    graph['10'] = { class_type: 'FluxGuidance', inputs: { conditioning: ['4', 0], guidance: '{{guidance}}' } }
  if (img2img) {
    // The uploaded image, scaled to the requested size, encoded, repeated per image; the
    // sampler starts from it with denoise = 1 − image_prompt_strength.
    graph['11'] = { class_type: 'LoadImage', inputs: { image: '{{image}}' } }
    graph['12'] = {
      class_type: 'ImageScale',
      inputs: { image: ['11', 0], upscale_method: 'lanczos', width: '{{width}}', height: '{{height}}', crop: 'center' },
    }
    graph['13'] = { class_type: 'VAEEncode', inputs: { pixels: ['12', 0], vae: ['3', 0] } }
    graph['6'] = { class_type: 'RepeatLatentBatch', inputs: { samples: ['13', 0], amount: '{{batch_size}}' } }
    graph['7']!.inputs.denoise = '{{denoise}}'
  }
  return graph
}

export const BUILT_IN_WORKFLOWS = {
  schnell: {
    name: 'schnell',
    txt2img: builtIn('flux1-schnell.safetensors', false, false),
    img2img: builtIn('flux1-schnell.safetensors', false, true),
    defaults: { steps: 4, guidance: 3.5 },
  },
  dev: {
    name: 'dev',
    txt2img: builtIn('flux1-dev.safetensors', true, false),
    img2img: builtIn('flux1-dev.safetensors', true, true),
    defaults: { steps: 28, guidance: 3.5 },
  },
} as const satisfies Record<string, ComfyWorkflows>

/**
 * The workflows to run: `schnell` or `dev` (built in), or a template file; an image-prompt
 * template file replaces the built-in one. The files were read and checked with the config.
 */
export function resolveWorkflows(
  which: 'schnell' | 'dev' | WorkflowFile,
  img2img: WorkflowFile | null,
  defaults?: Partial<ComfyWorkflows['defaults']>,
): ComfyWorkflows {
  if (which === 'schnell' || which === 'dev') {
    const base = BUILT_IN_WORKFLOWS[which]
    return { ...base, img2img: img2img?.graph ?? base.img2img, defaults: { ...base.defaults, ...defaults } }
  }
  return {
    name: which.file,
    txt2img: which.graph,
    img2img: img2img?.graph ?? null,
    defaults: { steps: 28, guidance: 3.5, ...defaults },
  }
}

/** A copy of `graph` with the placeholders replaced. */
export function fillGraph(graph: ComfyGraph, values: PlaceholderValues): ComfyGraph {
  const fill = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const whole = /^\{\{\s*([a-z_]+)\s*\}\}$/.exec(value)
      if (whole) return values[whole[1] as Placeholder]
      return value.replace(PLACEHOLDER_PATTERN, (_, name: string) => String(values[name as Placeholder]))
    }
    if (Array.isArray(value)) return value.map(fill)
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v)]))
    return value
  }
  return fill(graph) as ComfyGraph
}
