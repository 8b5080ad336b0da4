import { type CorsOrigins, corsOrigins, type TrustProxy, trustProxy } from '../http-parsers.js'
import { duration, list, optionalText, type Setting } from '../parsers.js'

/**
 * What the HTTP server waits for, whom it believes about its own address, which browser origins it
 * answers, and who may read /metrics.
 */
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
    kind: 'string',
    bareFlag: 'true',
    default: false as TrustProxy,
    describe:
      'Which proxy in front to believe about X-Forwarded-Proto/-Host/-For (set only behind one that overwrites ' +
      "them): `false`; the proxy's addresses or CIDR ranges, comma-separated (`10.0.0.5`, `10.0.0.0/8`, " +
      '`loopback`); a hop count (`1`: whoever connects; only when nothing else can reach the port); or `true` ' +
      '(anyone). From a believed proxy, they build the URLs in answers when FLUXHOST_PUBLIC_URL is not set.',
    parse: trustProxy,
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
  corsOrigins: {
    env: 'FLUXHOST_CORS_ORIGINS',
    flag: 'cors-origins',
    kind: 'list',
    default: null as CorsOrigins | null,
    describe:
      'Browser origins (comma-separated, e.g. `https://app.example.com`, or `*` for any) whose pages may call ' +
      'the APIs and /files across origins (CORS; keys travel in headers, never cookies). Empty: CORS off. ' +
      'Never the web pages or /docs.',
    parse: corsOrigins,
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
