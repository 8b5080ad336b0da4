import { EventSourceParserStream } from 'eventsource-parser/stream'

/** One server-sent event. */
export interface SseEvent {
  event: string
  data: string
}

/** Reads server-sent events from a fetch body until it ends (or its request is aborted). */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const events = body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream())
  for await (const message of events as unknown as AsyncIterable<{ event?: string; data: string }>) {
    yield { event: message.event ?? 'message', data: message.data }
  }
}
