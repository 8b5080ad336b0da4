// Changes the admin page sends where a refusal's issues matter (the limits and credits forms:
// each issue is shown by the field it names). api() in common.ts keeps only the message.
import { getKey } from './common.js'

/** One problem of a refused change: where (`loc`, as the API names it) and what. */
export interface Issue {
  loc: (string | number)[]
  msg: string
}

/** A refusal, with the issues the API named (or the one the page found before sending). */
export class Refusal extends Error {
  constructor(
    message: string,
    readonly issues: Issue[],
  ) {
    super(message)
  }
}

interface RefusalBody {
  error?: { message?: string; issues?: Issue[] }
}

/** Like api() from common.ts, but a refusal keeps its issues (api() keeps only the message). */
export async function send<T>(method: string, url: string, body: unknown): Promise<T> {
  let response: Response
  try {
    response = await fetch(url, {
      method,
      headers: { 'x-key': getKey(), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  } catch {
    throw new Refusal('fluxhost did not answer. Is the server running?', [])
  }
  const data: unknown = await response.json().catch(() => null)
  if (response.ok) return data as T
  const refusal = (data as RefusalBody | null)?.error
  throw new Refusal(refusal?.message ?? `HTTP ${response.status}`, refusal?.issues ?? [])
}
