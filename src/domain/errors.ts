/**
 * The error registry: every error fluxhost reports, with a stable code, its HTTP status,
 * a default message and whether retrying the same request can succeed. Each dialect
 * renders these in its own shape; `docs/errors.md` lists them all (a test keeps it so).
 */
export const ERRORS = {
  VALIDATION_FAILED: { status: 422, retryable: false, message: 'The request is invalid.' },
  BAD_REQUEST: { status: 400, retryable: false, message: 'The request is malformed.' },
  INVALID_JSON: { status: 400, retryable: false, message: 'The request body is not valid JSON.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    message: 'The request body must be sent as application/json.',
  },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, message: 'The request body is too large.' },
  UNAUTHORIZED: {
    status: 401,
    retryable: false,
    message: 'A valid API key is required (Authorization: Bearer, X-API-Key or x-key).',
  },
  FORBIDDEN: { status: 403, retryable: false, message: 'This API key may not do that.' },
  NOT_FOUND: { status: 404, retryable: false, message: 'No such route.' },
  JOB_NOT_FOUND: { status: 404, retryable: false, message: 'No job with that id.' },
  MODEL_NOT_FOUND: { status: 404, retryable: false, message: 'fluxhost does not serve that model.' },
  KEY_NOT_FOUND: { status: 404, retryable: false, message: 'No API key with that id.' },
  LAST_ADMIN_KEY: {
    status: 409,
    retryable: false,
    message: 'This is the last active admin key: create another admin key before revoking it.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    retryable: false,
    message: 'This Idempotency-Key was already used with a different request; use a new key for a new request.',
  },
  IDEMPOTENCY_KEY_IN_USE: {
    status: 409,
    retryable: true,
    message: 'A request with this Idempotency-Key is still being answered; retry when it has been.',
  },
  DELIVERY_NOT_FOUND: { status: 404, retryable: false, message: 'No webhook delivery with that id.' },
  DELIVERY_IN_PROGRESS: {
    status: 409,
    retryable: true,
    message: 'That delivery is still being attempted; redeliver it once it has ended.',
  },
  JOB_NOT_CANCELABLE: {
    status: 409,
    retryable: false,
    message: 'The job has already finished and cannot be canceled.',
  },
  JOB_NOT_FINISHED: {
    status: 409,
    retryable: false,
    message: 'The job has not finished: cancel it first, then delete it.',
  },
  RATE_LIMITED: { status: 429, retryable: true, message: 'Too many requests; retry later.' },
  CONCURRENCY_LIMITED: {
    status: 429,
    retryable: true,
    message: 'This API key has as many jobs queued or running as it may; retry when one has finished.',
  },
  CREDITS_EXHAUSTED: {
    status: 402,
    retryable: false,
    message: "This API key's prepaid credits do not cover the job; ask an admin for a top-up.",
  },
  BUDGET_EXCEEDED: {
    status: 402,
    retryable: false,
    message: "This API key's budget for the period does not cover the job; it renews at the next period.",
  },
  REQUEST_MODERATED: {
    status: 400,
    retryable: false,
    message: 'The request (prompt or input image) was flagged by moderation.',
  },
  CONTENT_MODERATED: {
    status: 400,
    retryable: false,
    message: 'The generated image was flagged by moderation.',
  },
  GENERATION_FAILED: { status: 500, retryable: false, message: 'Image generation failed.' },
  ENGINE_UNAVAILABLE: {
    status: 503,
    retryable: true,
    message: 'No engine that serves this model is available.',
  },
  INSUFFICIENT_CREDITS: {
    status: 402,
    retryable: false,
    message: 'The upstream account has insufficient credits.',
  },
  JOB_CANCELED: { status: 409, retryable: false, message: 'The job was canceled.' },
  JOB_ABANDONED: {
    status: 500,
    retryable: false,
    message: 'The job was interrupted too many times (its worker stopped during every attempt).',
  },
  FILE_SIGNATURE_INVALID: {
    status: 403,
    retryable: false,
    message: 'The file URL signature is missing or invalid.',
  },
  FILE_URL_EXPIRED: {
    status: 403,
    retryable: false,
    message: 'The file URL has expired; fetch the job again for a fresh URL.',
  },
  FILE_NOT_FOUND: { status: 404, retryable: false, message: 'No such file.' },
  SYNC_TIMEOUT: {
    status: 504,
    retryable: true,
    message: 'The image was not ready in time; the job goes on, fetch it later by its id.',
  },
  SHUTTING_DOWN: {
    status: 503,
    retryable: true,
    message: 'The server is shutting down; retry shortly.',
  },
  INTERNAL_ERROR: {
    status: 500,
    retryable: true,
    message: 'Internal server error. Quote the request id when reporting it.',
  },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>

export type ErrorCode = keyof typeof ERRORS

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERRORS, value)
}

/** The error a finished, unsuccessful job carries, as a registry error to answer with. */
export function jobFailure(error: { code: string; message: string } | null): FluxhostError {
  if (error && isErrorCode(error.code)) return new FluxhostError(error.code, { message: error.message })
  return new FluxhostError('GENERATION_FAILED', error ? { message: error.message } : {})
}

/** One problem with one input field, located the way FastAPI/pydantic locate them. */
export interface FieldIssue {
  /** Where: `['body', 'width']`, `['query', 'id']`, `['header', 'x-fluxhost-simulate']`. */
  loc: (string | number)[]
  msg: string
  /** A pydantic-style error type: `missing`, `int_type`, `greater_than_equal`, … */
  type: string
  input?: unknown
  ctx?: Record<string, unknown>
}

export interface FluxhostErrorOptions {
  message?: string
  issues?: FieldIssue[]
  retryAfterS?: number
  /** A per-minute rate limit's window: the answer carries it as `RateLimit` headers. */
  quota?: { limit: number; remaining: number; resetS: number }
  cause?: unknown
}

/** An error that crosses a boundary: it carries a registry code and renders in any dialect. */
export class FluxhostError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly retryable: boolean
  readonly issues: FieldIssue[]
  readonly retryAfterS: number | undefined
  readonly quota: FluxhostErrorOptions['quota']

  constructor(code: ErrorCode, options: FluxhostErrorOptions = {}) {
    const entry = ERRORS[code]
    // Messages may quote the client (a path, a value): bounded like the issues.
    const message = options.message ?? entry.message
    super(message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message, { cause: options.cause })
    this.name = 'FluxhostError'
    this.code = code
    this.status = entry.status
    this.retryable = entry.retryable
    this.issues = boundedIssues(options.issues ?? [])
    this.retryAfterS = options.retryAfterS
    this.quota = options.quota
  }
}

const MAX_MESSAGE = 1000

/** An error lists at most this many issues, then one more that counts the rest. */
export const MAX_ISSUES = 30
const MAX_TEXT = 100

/** A client's value as an error may echo it: strings cut short, objects and arrays elided. */
export function clipped(value: unknown): unknown {
  if (typeof value === 'string') return value.length > MAX_TEXT ? `${value.slice(0, MAX_TEXT)}…` : value
  if (value !== null && typeof value === 'object') return Array.isArray(value) ? '[…]' : '{…}'
  return value
}

/**
 * Issues as an answer may carry them, whatever the request: at most `MAX_ISSUES`, each
 * with its location, input and message clipped, so an error answer stays a few KB however
 * many fields were wrong or however long their names (a 500,000-key body, a 1 MB key).
 */
export function boundedIssues(issues: readonly FieldIssue[]): FieldIssue[] {
  // Already bounded (the summary is last): keep it as it is.
  const bounded = issues.length <= MAX_ISSUES + 1 && issues.at(-1)?.type === 'too_many_errors'
  const shown = issues.slice(0, bounded ? issues.length : MAX_ISSUES).map((issue) => {
    const clippedIssue: FieldIssue = {
      ...issue,
      loc: issue.loc.slice(0, 12).map((part) => (typeof part === 'string' ? (clipped(part) as string) : part)),
      msg: issue.msg.length > 4 * MAX_TEXT ? `${issue.msg.slice(0, 4 * MAX_TEXT)}…` : issue.msg,
    }
    if ('input' in issue) clippedIssue.input = clipped(issue.input)
    return clippedIssue
  })
  const more = issues.length - shown.length
  if (more > 0) {
    const part = issues[MAX_ISSUES]?.loc[0] ?? 'body'
    shown.push({ loc: [part], msg: `…and ${more} more issues`, type: 'too_many_errors', ctx: { more } })
  }
  return shown
}

export function validationError(all: FieldIssue[]): FluxhostError {
  const issues = boundedIssues(all)
  const first = issues[0]
  const where = first ? first.loc.filter((part) => part !== 'body').join('.') : ''
  const message = first ? `${where ? `${where}: ` : ''}${first.msg}` : ERRORS.VALIDATION_FAILED.message
  return new FluxhostError('VALIDATION_FAILED', { message, issues })
}
