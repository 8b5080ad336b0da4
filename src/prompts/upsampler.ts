import { type Dispatcher, request } from 'undici'

export type { UpsamplingOutcome } from '../domain/job.js'

export interface PromptUpsampler {
  /**
   * The rewritten prompt. Throws UpsamplerError when it cannot: `message` is safe to show
   * clients (no addresses, no upstream text); `detail` is for the server's log.
   */
  rewrite(prompt: string, signal?: AbortSignal): Promise<string>
}

export class UpsamplerError extends Error {
  constructor(
    message: string,
    readonly detail: string,
  ) {
    super(message)
    this.name = 'UpsamplerError'
  }
}

export const UPSAMPLE_INSTRUCTIONS =
  'You rewrite prompts for a text-to-image model (FLUX). ' +
  'Keep the subject and every detail the user asked for; ' +
  'add concrete visual detail: composition, lighting, colour, materials, style, camera. ' +
  'One paragraph, at most 120 words, no preamble, no quotes: answer with the rewritten prompt only.'

/**
 * Rewrites prompts through an OpenAI-compatible chat-completions endpoint (OpenAI, a local
 * Ollama or vLLM, …): `POST {baseUrl}/chat/completions` with a system instruction and the
 * prompt, the answer's first choice being the new prompt.
 */
export function createChatUpsampler(options: {
  baseUrl: string
  model: string
  apiKey?: string
  timeoutMs?: number
}): PromptUpsampler {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`
  const timeoutMs = options.timeoutMs ?? 30_000
  return {
    async rewrite(prompt, signal) {
      const deadline = AbortSignal.timeout(timeoutMs)
      let response: Dispatcher.ResponseData
      try {
        response = await request(url, {
          method: 'POST',
          signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
          headers: {
            'content-type': 'application/json',
            ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          },
          body: JSON.stringify({
            model: options.model,
            temperature: 0.7,
            messages: [
              { role: 'system', content: UPSAMPLE_INSTRUCTIONS },
              { role: 'user', content: prompt },
            ],
          }),
        })
      } catch (error) {
        if (deadline.aborted)
          throw new UpsamplerError(`the upsampler did not answer within ${timeoutMs / 1000} s`, `POST ${url} timed out`)
        throw new UpsamplerError('the upsampler could not be reached', `POST ${url}: ${(error as Error).message}`)
      }
      const text = await response.body.text()
      if (response.statusCode !== 200)
        throw new UpsamplerError(
          `the upsampler answered HTTP ${response.statusCode}`,
          `POST ${url} → ${response.statusCode}: ${text.slice(0, 500)}`,
        )
      let content: unknown
      try {
        content = (JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message
          ?.content
      } catch {
        throw new UpsamplerError(
          'the upsampler answered something other than JSON',
          `POST ${url}: ${text.slice(0, 500)}`,
        )
      }
      if (typeof content !== 'string' || content.trim() === '')
        throw new UpsamplerError(
          'the upsampler answered without a prompt',
          `POST ${url}: no choices[0].message.content in ${text.slice(0, 500)}`,
        )
      return content
        .trim()
        .replace(/^"(.*)"$/s, '$1')
        .slice(0, 10_000)
    },
  }
}
