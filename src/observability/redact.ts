/** Query parameters whose values are credentials: a signed file URL's `sig`, keys and tokens. */
const SECRET_PARAM =
  /^(?:sig|signature|x-amz-(?:signature|credential|security-token)|key|api_?key|x-key|(?:access_)?token|secret)$/i

/**
 * A request URL as a log line may show it: the path, and the query with every credential's
 * value replaced (`/files/…?exp=…&sig=[redacted]`), so a log never holds a working signed
 * URL or a key. Malformed queries are dropped whole.
 */
export function redactUrl(url: string): string {
  const mark = url.indexOf('?')
  if (mark === -1) return url
  const path = url.slice(0, mark)
  try {
    const params = new URLSearchParams(url.slice(mark + 1))
    let redacted = false
    for (const name of new Set(params.keys())) {
      if (!SECRET_PARAM.test(name)) continue
      params.set(name, '[redacted]')
      redacted = true
    }
    return redacted ? `${path}?${params.toString().replaceAll('%5Bredacted%5D', '[redacted]')}` : url
  } catch {
    return `${path}?[unreadable]`
  }
}

/**
 * pino `redact` paths: credentials that a logged object may carry (request headers, config
 * parts, errors that quote a request), censored whatever the log level.
 */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-key"]',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-key"]',
  'headers["x-api-key"]',
  'headers["x-webhook-secret"]',
  '*.apiKey',
  '*.secret',
  '*.webhookSecret',
  '*.webhook_secret',
]
