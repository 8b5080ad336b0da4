import { readSse } from '../../src/cli/sse.js'

/**
 * Follows a job over HTTP (its server-sent events) until its stream ends, which it does once
 * the job is terminal; returns the job as the last `state` event showed it. Waits for the
 * event, never polls.
 */
export async function followToEnd(base: string, key: string, id: string): Promise<any> {
  const response = await fetch(`${base}/api/jobs/${id}/events`, { headers: { 'x-key': key } })
  if (response.status !== 200) throw new Error(`events of ${id}: ${response.status} ${await response.text()}`)
  let last: any
  for await (const event of readSse(response.body!)) if (event.event === 'state') last = JSON.parse(event.data)
  return last
}
