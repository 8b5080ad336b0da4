import { validationError } from '../domain/errors.js'
import { FetchRefused, type Outbound } from '../net/outbound.js'

/** Refuses (422, naming the field) a webhook URL that outbound requests may not reach. */
export async function vetWebhookUrl(
  outbound: Pick<Outbound, 'vet'>,
  url: string,
  loc: (string | number)[] = ['body', 'webhook_url'],
) {
  try {
    await outbound.vet(url)
  } catch (error) {
    if (!(error instanceof FetchRefused)) throw error
    throw validationError([
      { loc, msg: `Webhook URL refused: ${error.message}`, type: 'url_refused', input: url.slice(0, 200) },
    ])
  }
}
