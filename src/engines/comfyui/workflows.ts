import fs from 'node:fs'

/**
 * ComfyUI API-format workflows with placeholders. A string value that is exactly
 * `{{name}}` becomes the value itself (a number stays a number); `{{name}}` inside a longer
 * string is replaced as text. The names are PLACEHOLDERS; any other `{{…}}` is an error
 * when the template is loaded, not when a job runs.
 */
export const PLACEHOLDERS = [
  'prompt',
  'seed',
  'width',
  'height',
  'steps',
  'guidance',
  'batch_size',
  'image',
  'denoise',
  'filename_prefix',
] as const
export type Placeholder = (typeof PLACEHOLDERS)[number]
export type PlaceholderValues = Record<Placeholder, string | number>

export type ComfyGraph = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: unknown }>

export interface ComfyWorkflows {
  /** `schnell`, `dev`, or the template file's path: for messages. */
  name: string
  txt2img: ComfyGraph
  /** Needs `{{image}}` (the uploaded file's name) and should use `{{denoise}}`. */
  img2img: ComfyGraph | null
  defaults: { steps: number; guidance: number }
}

const PATTERN = /\{\{\s*([a-z_]+)\s*\}\}/g

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
    '9': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: '{{filename_prefix}}' } },
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

/** The placeholders a graph uses; throws on unknown ones. */
export function placeholdersOf(graph: ComfyGraph, source: string): Set<Placeholder> {
  const found = new Set<Placeholder>()
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      for (const match of value.matchAll(PATTERN)) {
        const name = match[1]!
        if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
          throw new Error(
            `${source}: unknown placeholder {{${name}}}; placeholders: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`,
          )
        }
        found.add(name as Placeholder)
      }
    } else if (Array.isArray(value)) value.forEach(walk)
    else if (value && typeof value === 'object') Object.values(value).forEach(walk)
  }
  walk(graph)
  return found
}

/** Checks that `value` is an API-format graph (ComfyUI's "Save (API)"), not the UI format. */
export function parseGraph(value: unknown, source: string): ComfyGraph {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`${source}: expected a JSON object of nodes (ComfyUI's API format)`)
  if ('nodes' in value && 'links' in value)
    throw new Error(`${source}: this is ComfyUI's UI format; export it with "Save (API)" instead`)
  for (const [id, node] of Object.entries(value)) {
    const n = node as { class_type?: unknown; inputs?: unknown }
    if (!n || typeof n !== 'object' || typeof n.class_type !== 'string' || !n.inputs || typeof n.inputs !== 'object') {
      throw new Error(`${source}: node '${id}' needs a class_type and an inputs object`)
    }
  }
  const graph = value as ComfyGraph
  const used = placeholdersOf(graph, source)
  if (!used.has('prompt')) throw new Error(`${source}: the workflow has no {{prompt}} placeholder`)
  return graph
}

function readGraph(file: string): ComfyGraph {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    throw new Error(
      `${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    )
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new Error(`${file}: not JSON (${(error as Error).message})`)
  }
  return parseGraph(json, file)
}

/**
 * `schnell` or `dev` (built in), or a template file (with an optional second one for image
 * prompts, which must use `{{image}}`).
 */
export function loadWorkflows(
  which: string,
  img2imgFile: string | null,
  defaults?: Partial<ComfyWorkflows['defaults']>,
): ComfyWorkflows {
  if (which === 'schnell' || which === 'dev') {
    const base = BUILT_IN_WORKFLOWS[which]
    const img2img = img2imgFile ? readGraph(img2imgFile) : base.img2img
    if (img2imgFile && !placeholdersOf(img2img, img2imgFile).has('image'))
      throw new Error(`${img2imgFile}: an image-prompt workflow needs an {{image}} placeholder`)
    return { ...base, img2img, defaults: { ...base.defaults, ...defaults } }
  }
  const txt2img = readGraph(which)
  const img2img = img2imgFile ? readGraph(img2imgFile) : null
  if (img2img && !placeholdersOf(img2img, img2imgFile!).has('image'))
    throw new Error(`${img2imgFile}: an image-prompt workflow needs an {{image}} placeholder`)
  return { name: which, txt2img, img2img, defaults: { steps: 28, guidance: 3.5, ...defaults } }
}

/** A copy of `graph` with the placeholders replaced. */
export function fillGraph(graph: ComfyGraph, values: PlaceholderValues): ComfyGraph {
  const fill = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const whole = /^\{\{\s*([a-z_]+)\s*\}\}$/.exec(value)
      if (whole) return values[whole[1] as Placeholder]
      return value.replace(PATTERN, (_, name: string) => String(values[name as Placeholder]))
    }
    if (Array.isArray(value)) return value.map(fill)
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v)]))
    return value
  }
  return fill(graph) as ComfyGraph
}
