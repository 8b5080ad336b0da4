import type { EngineImage } from '../engine.js'
import { EngineError } from '../engine-error.js'
import type { ComfyClient, HistoryEntry, OutputFile } from './client.js'
import { describeExecutionError } from './wait.js'

/**
 * The prompt's images, downloaded with /view: its SaveImage files (type `output`) when it has
 * any, else its PreviewImage files (type `temp`, which the built-in workflows use), in node
 * order. With both, the previews are of something else (an intermediate step) and ignored.
 */
export async function collectImages(
  entry: HistoryEntry,
  client: ComfyClient,
  workflowName: string,
  signal: AbortSignal,
): Promise<EngineImage[]> {
  const status = entry.status
  if (status?.status_str === 'error') {
    const failure = status.messages?.find(([type]) => type === 'execution_error')?.[1]
    if (failure) throw new EngineError('failed', describeExecutionError(failure))
    if (status.messages?.some(([type]) => type === 'execution_interrupted'))
      throw new EngineError('failed', 'ComfyUI interrupted the prompt (it was stopped on the ComfyUI side)')
    throw new EngineError('failed', 'ComfyUI reports the prompt failed')
  }
  const all = Object.keys(entry.outputs ?? {})
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .flatMap((node) => entry.outputs![node]!.images ?? [])
  const saved = all.filter((image) => image.type === 'output')
  const files: OutputFile[] = saved.length > 0 ? saved : all.filter((image) => image.type === 'temp')
  if (files.length === 0)
    throw new EngineError(
      'failed',
      `ComfyUI's workflow '${workflowName}' made no image (it needs a SaveImage or PreviewImage node)`,
    )
  return Promise.all(files.map(async (file) => ({ kind: 'encoded' as const, data: await client.view(file, signal) })))
}
