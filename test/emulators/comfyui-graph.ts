import sharp from 'sharp'

/** An API-format graph as POST /prompt takes it. */
export type ComfyTestGraph = Record<string, { class_type: string; inputs: Record<string, any> }>

/** Node classes the emulator knows (enough for FLUX.1 workflows), with their required inputs. */
const NODES: Record<string, string[]> = {
  UNETLoader: ['unet_name', 'weight_dtype'],
  DualCLIPLoader: ['clip_name1', 'clip_name2', 'type'],
  VAELoader: ['vae_name'],
  CLIPTextEncode: ['clip', 'text'],
  EmptySD3LatentImage: ['width', 'height', 'batch_size'],
  FluxGuidance: ['conditioning', 'guidance'],
  KSampler: [
    'model',
    'positive',
    'negative',
    'latent_image',
    'seed',
    'steps',
    'cfg',
    'sampler_name',
    'scheduler',
    'denoise',
  ],
  VAEDecode: ['samples', 'vae'],
  VAEEncode: ['pixels', 'vae'],
  SaveImage: ['images', 'filename_prefix'],
  PreviewImage: ['images'],
  LoadImage: ['image'],
  ImageScale: ['image', 'upscale_method', 'width', 'height', 'crop'],
  RepeatLatentBatch: ['samples', 'amount'],
}

/**
 * Where a file name points, as ComfyUI's folder_paths.annotated_filepath reads it: `x.png [temp]`
 * is x.png in the temp folder; without an annotation, `fallback` (LoadImage: input).
 */
export function annotated(name: string, fallback: string): string {
  const match = /^(.*) \[(input|output|temp)\]$/.exec(name)
  return match ? `${match[2]}/${match[1]}` : `${fallback}/${name}`
}

/** What POST /prompt answers to a graph it refuses (400), as ComfyUI's validate_prompt words it. */
export function validateGraph(graph: ComfyTestGraph, models: string[], files: ReadonlySet<string>) {
  for (const [id, node] of Object.entries(graph)) {
    if (!NODES[node.class_type])
      return {
        error: {
          type: 'invalid_prompt',
          message: `Cannot execute because node ${node.class_type} does not exist.`,
          details: `Node ID '#${id}'`,
          extra_info: {},
        },
        node_errors: {},
      }
  }
  if (!Object.values(graph).some((n) => n.class_type === 'SaveImage' || n.class_type === 'PreviewImage'))
    return {
      error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} },
      node_errors: [],
    }
  const nodeErrors: Record<string, unknown> = {}
  for (const [id, node] of Object.entries(graph)) {
    const errors: unknown[] = []
    const fail = (type: string, message: string, details: string, input?: string) =>
      errors.push({ type, message, details, extra_info: input ? { input_name: input } : {} })
    for (const input of NODES[node.class_type]!)
      if (!(input in node.inputs)) fail('required_input_missing', 'Required input is missing', input, input)
    if (node.class_type === 'UNETLoader' && !models.includes(node.inputs.unet_name))
      fail(
        'value_not_in_list',
        'Value not in list',
        `unet_name: '${node.inputs.unet_name}' not in ${JSON.stringify(models)}`,
        'unet_name',
      )
    if (node.class_type === 'LoadImage' && !files.has(annotated(String(node.inputs.image), 'input')))
      fail(
        'custom_validation_failed',
        'Failed to validate prompt for output 9',
        `Invalid image file: ${node.inputs.image}`,
      )
    if (node.class_type === 'KSampler' && !(Number(node.inputs.denoise) >= 0 && Number(node.inputs.denoise) <= 1))
      fail('value_bigger_than_max', 'Value out of range', `denoise: ${node.inputs.denoise}`, 'denoise')
    if (errors.length > 0) nodeErrors[id] = { errors, dependent_outputs: ['9'], class_type: node.class_type }
  }
  if (Object.keys(nodeErrors).length > 0)
    return {
      error: {
        type: 'prompt_outputs_failed_validation',
        message: 'Prompt outputs failed validation',
        details: '',
        extra_info: {},
      },
      node_errors: nodeErrors,
    }
  return undefined
}

/**
 * The files an output node writes, as ComfyUI names them: SaveImage under output/ with its
 * filename_prefix (`fluxhost/<job>` → subfolder fluxhost), PreviewImage under temp/ as
 * `ComfyUI_temp_<5 letters>_<counter>_.png`. One PNG per image of the batch, coloured by seed.
 */
export async function renderImages(graph: ComfyTestGraph, node: ComfyTestGraph[string], next: () => number) {
  const latent = Object.values(graph).find(
    (n) => n.class_type === 'EmptySD3LatentImage' || n.class_type === 'RepeatLatentBatch',
  )!
  const scale = Object.values(graph).find((n) => n.class_type === 'ImageScale')
  const size = latent.class_type === 'EmptySD3LatentImage' ? latent.inputs : scale!.inputs
  const count = Number(latent.inputs.batch_size ?? latent.inputs.amount)
  const seed = Number(Object.values(graph).find((n) => n.class_type === 'KSampler')?.inputs.seed ?? 0)
  const preview = node.class_type === 'PreviewImage'
  const letters = Array.from({ length: 5 }, () => 'abcdefghijklmnopqrstuvwxyz'[Math.floor(Math.random() * 26)])
  const prefix = preview ? `ComfyUI_temp_${letters.join('')}` : String(node.inputs.filename_prefix)
  const written: { filename: string; subfolder: string; type: 'output' | 'temp'; data: Buffer }[] = []
  for (let i = 0; i < count; i++) {
    const background = { r: (seed * 37 + i * 50) % 256, g: (seed * 11) % 256, b: 140 }
    written.push({
      filename: `${prefix.split('/').pop()}_${String(next()).padStart(5, '0')}_.png`,
      subfolder: prefix.split('/').slice(0, -1).join('/'),
      type: preview ? 'temp' : 'output',
      data: await sharp({ create: { width: Number(size.width), height: Number(size.height), channels: 3, background } })
        .png()
        .toBuffer(),
    })
  }
  return written
}

/** How ComfyUI answers a POST /prompt it refuses (ComfyScript.submitStatus). */
export function refusal(status: 400 | 403 | 500, graph: ComfyTestGraph): { type: string; body: string } {
  if (status === 400) {
    // No model installed: validate_prompt's value_not_in_list on the UNETLoader, with node_errors.
    const invalid = validateGraph(graph, [], new Set()) ?? {
      error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation' },
      node_errors: {},
    }
    return { type: 'application/json', body: JSON.stringify(invalid) }
  }
  // The origin middleware's bare 403; aiohttp's page for an exception in a handler.
  if (status === 403) return { type: 'text/plain', body: '' }
  return { type: 'text/plain; charset=utf-8', body: '500 Internal Server Error\n\nServer got itself in trouble' }
}

/** What GET /system_stats answers. */
export const SYSTEM_STATS = {
  system: { os: 'posix', comfyui_version: '0.3.60', python_version: '3.12', embedded_python: false },
  devices: [{ name: 'cuda:0 Emulated GPU', type: 'cuda', index: 0, vram_total: 25769803776, vram_free: 20000000000 }],
}
