/**
 * ComfyUI API-format workflow templates, as `FLUXHOST_COMFYUI_WORKFLOW` files hold them. A
 * string value that is exactly `{{name}}` becomes the value itself (a number stays a
 * number); `{{name}}` inside a longer string is replaced as text. The names are
 * PLACEHOLDERS; any other `{{…}}` is a configuration error, found at start, not when a job runs.
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

export type ComfyGraph = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: unknown }>

export const PLACEHOLDER_PATTERN = /\{\{\s*([a-z_]+)\s*\}\}/g

/** The placeholders a graph uses; throws on unknown ones. */
export function placeholdersOf(graph: ComfyGraph, source: string): Set<Placeholder> {
  const found = new Set<Placeholder>()
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      for (const match of value.matchAll(PLACEHOLDER_PATTERN)) {
        const name = match[1]!
        if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
          const known = PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')
          throw new Error(`${source}: unknown placeholder {{${name}}}; placeholders: ${known}`)
        }
        found.add(name as Placeholder)
      }
    } else if (Array.isArray(value)) value.forEach(walk)
    else if (value && typeof value === 'object') Object.values(value).forEach(walk)
  }
  walk(graph)
  return found
}

/**
 * Checks that the text of `source` is an API-format graph (ComfyUI's "Save (API)", not the
 * UI format) with a `{{prompt}}` — and an `{{image}}` when it is the image-prompt workflow.
 */
export function parseWorkflow(text: string, source: string, role: 'text' | 'image-prompt'): ComfyGraph {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new Error(`${source}: not JSON (${(error as Error).message})`)
  }
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
  if (role === 'image-prompt' && !used.has('image'))
    throw new Error(`${source}: an image-prompt workflow needs an {{image}} placeholder`)
  return graph
}
