/**
 * A request field that fluxhost will later send as an HTTP header value (BFL's
 * `webhook_secret` goes back in `X-Webhook-Secret`): printable ASCII with no leading or
 * trailing space, so no CR/LF or other control character can reach a header. Checked by
 * the schema at the door: a value a header cannot carry is a 422 naming the field, not a
 * delivery that fails for days.
 */
export const HEADER_VALUE_PATTERN = '^(?:[\\x21-\\x7E](?:[\\x20-\\x7E]*[\\x21-\\x7E])?)?$'

export const HEADER_VALUE_MESSAGE =
  'String should hold only printable ASCII, without leading or trailing spaces: it is sent back as an HTTP header'
