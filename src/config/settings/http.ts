import { boolean, duration, list, optionalText, type Setting } from '../parsers.js'

/** What the HTTP server waits for, whom it believes about its own address, and who may read /metrics. */
export const HTTP_SETTINGS = {
  headersTimeout: {
    env: 'FLUXHOST_HEADERS_TIMEOUT',
    flag: 'headers-timeout',
    kind: 'string',
    default: '10s',
    describe: "Longest a client may take to send a request's headers; then the connection is closed (408).",
    parse: duration(1000, 3_600_000),
  },
  requestTimeout: {
    env: 'FLUXHOST_REQUEST_TIMEOUT',
    flag: 'request-timeout',
    kind: 'string',
    default: '120s',
    describe:
      'Longest a client may take to send a whole request (headers and body); a trickling body is cut off ' +
      '(408). Answers (the sync route, event streams) are not limited by it.',
    parse: duration(1000, 3_600_000),
  },
  idleTimeout: {
    env: 'FLUXHOST_IDLE_TIMEOUT',
    flag: 'idle-timeout',
    kind: 'string',
    default: '72s',
    describe:
      'How long an idle keep-alive connection stays open (longer than a load balancer in front ' +
      'keeps its own: 60 s on AWS ALB).',
    parse: duration(1000, 3_600_000),
  },
  trustProxy: {
    env: 'FLUXHOST_TRUST_PROXY',
    flag: 'trust-proxy',
    kind: 'boolean',
    default: false,
    describe:
      'Believe X-Forwarded-Proto/-Host/-For from the proxy in front (set only behind one that overwrites them): ' +
      'they then build the URLs in answers when FLUXHOST_PUBLIC_URL is not set.',
    parse: boolean,
  },
  allowedHosts: {
    env: 'FLUXHOST_ALLOWED_HOSTS',
    flag: 'allowed-hosts',
    kind: 'list',
    default: [] as string[],
    describe:
      'Comma-separated host names (with :port if not the default) whose Host header may build the URLs in ' +
      'answers when FLUXHOST_PUBLIC_URL is not set; any other Host gets URLs of the listening address.',
    parse: list,
  },
  metricsToken: {
    env: 'FLUXHOST_METRICS_TOKEN',
    flag: 'metrics-token',
    kind: 'string',
    default: null as string | null,
    describe: 'When set, GET /metrics needs `Authorization: Bearer <token>` (401 otherwise).',
    parse: optionalText,
  },
} as const satisfies Record<string, Setting<unknown>>
