import type { FastifyRequest } from 'fastify'
import { FluxhostError, validationError } from '../domain/errors.js'
import type { Simulation } from '../domain/job.js'
import { parseSimulation, SIMULATE_HEADER } from '../domain/simulate.js'

/** The request's `X-Fluxhost-Simulate`, parsed; a bad value is a 4xx naming the header. */
export function simulationFrom(request: FastifyRequest): Simulation | undefined {
  const header = request.headers[SIMULATE_HEADER]
  if (header === undefined) return undefined
  const parsed = parseSimulation(Array.isArray(header) ? header.join(',') : header)
  if ('issue' in parsed) throw validationError([parsed.issue])
  return parsed.simulation
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/

/**
 * Decodes a base64 image field (plain or as a `data:image/...;base64,` URL). Bytes that
 * are not an image are caught later, by the image probe; this only rejects non-base64.
 * A field can be 30 MB: the common case (no whitespace, nothing but base64) is proven by
 * the decoded length alone, without a regex over the whole string on the event loop.
 */
export function decodeBase64Field(value: string, loc: (string | number)[]): Buffer {
  const comma = value.startsWith('data:') ? value.indexOf(',') : -1
  const raw = comma >= 0 ? value.slice(comma + 1) : value
  // Node's decoder takes both alphabets and skips what is not base64; a clean payload of n
  // characters (p of them `=`) decodes to exactly floor((n − p) · 3 / 4) bytes.
  const padding = raw.endsWith('==') ? 2 : raw.endsWith('=') ? 1 : 0
  const decoded = Buffer.from(raw, 'base64')
  if (
    raw.length > 0 &&
    (raw.length - padding) % 4 !== 1 &&
    decoded.length === Math.floor(((raw.length - padding) * 3) / 4)
  )
    return decoded
  // Whitespace, or something that is not base64: the careful way, which names the problem.
  const payload = raw.replace(/\s+/g, '')
  if (payload === '' || !BASE64.test(payload)) {
    throw validationError([
      { loc, msg: 'Input should be a base64-encoded image', type: 'value_error', input: `${value.slice(0, 40)}…` },
    ])
  }
  return Buffer.from(payload, 'base64')
}

/**
 * Runs `fn`, renaming the fields of a validation error from canonical names (`width`) to
 * the client's (`image_size.width`), so every error names what the client actually sent.
 */
export async function withFieldNames<T>(rename: Record<string, (string | number)[]>, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (!(error instanceof FluxhostError) || error.code !== 'VALIDATION_FAILED') throw error
    throw validationError(
      error.issues.map((issue) => {
        const field = issue.loc[0] === 'body' ? issue.loc[1] : undefined
        const renamed = typeof field === 'string' ? rename[field] : undefined
        return renamed ? { ...issue, loc: ['body', ...renamed, ...issue.loc.slice(2)] } : issue
      }),
    )
  }
}
