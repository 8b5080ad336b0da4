import { validationError } from '../domain/errors.js'
import { type ProbeResult, probeInputImage } from '../images/probe.js'
import { FetchRefused, type Outbound } from '../net/outbound.js'

/** An input image as a client gave it: bytes (base64 in the request) or a URL to fetch. */
export interface ImagePromptInput {
  source: { data: Buffer } | { url: string }
  strength: number
  /** Where the client put it, for error messages: `['body', 'fluxParams', 'image_prompt']`. */
  loc: (string | number)[]
}

/**
 * Gets the image's bytes (fetching a URL safely) and checks they are an image fluxhost
 * accepts. Any problem is a validation error naming the client's field.
 */
export async function loadImagePrompt(
  input: ImagePromptInput,
  fetcher: Outbound,
): Promise<{ data: Buffer; probe: Extract<ProbeResult, { ok: true }> }> {
  let data: Buffer
  if ('url' in input.source) {
    try {
      data = (await fetcher.fetch(input.source.url)).data
    } catch (error) {
      if (!(error instanceof FetchRefused)) throw error
      throw validationError([
        {
          loc: input.loc,
          msg: `Could not fetch the image: ${error.message}`,
          type: 'url_fetch_error',
          input: input.source.url.slice(0, 200),
        },
      ])
    }
  } else {
    data = input.source.data
  }
  const probe = await probeInputImage(data)
  if (!probe.ok) throw validationError([{ loc: input.loc, msg: `Invalid image: ${probe.reason}`, type: 'value_error' }])
  return { data, probe }
}
