import { defineConfig } from 'vitest/config'
import { probePostgres } from './test/helpers/services.js'

// Two projects: every test on the embedded defaults (SQLite records, files on disk), and the
// integration tests again distributed: records in PostgreSQL (each test server in a schema of
// its own, events over its LISTEN/NOTIFY) and images in an S3 bucket (s3rver). Without
// PostgreSQL the second is skipped, saying why; with CI=true that is a failure.
export default defineConfig(async () => {
  const postgres = await probePostgres()
  const shared = {
    // Generous: tests that spawn the CLI from source take seconds per child on two busy cores.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // expect.poll waits for what a page or a server does next; 1 s (vitest's default) is too
    // short on two busy cores.
    expect: { poll: { timeout: 15_000 } },
    // The AWS SDK warns in every process that loads it that its 2027 releases need Node 22
    // (docs/deploy.md says so once); here it was a dozen lines per spawned server.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  }
  return {
    test: {
      // Every in-process test server's log is kept and read for credentials at the end.
      globalSetup: ['test/helpers/log-audit.ts', 'test/helpers/build-web.ts'],
      // Integration tests start servers and child processes; two cores run two files at once.
      maxWorkers: 2,
      minWorkers: 1,
      projects: [
        // No network, no child process, no database server (test/helpers/unit-guard.ts): fast.
        {
          test: {
            ...shared,
            name: 'unit',
            include: ['test/unit/**/*.test.ts'],
            setupFiles: ['test/helpers/unit-guard.ts'],
          },
        },
        // Real parts on the embedded defaults: conformance suites (each backend that is up),
        // integration tests with servers and processes, browser and snippet tests.
        {
          test: {
            ...shared,
            name: 'embedded',
            include: ['test/conformance/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          },
        },
        ...(postgres.ok
          ? [
              {
                test: {
                  ...shared,
                  name: 'distributed',
                  include: ['test/integration/**/*.test.ts'],
                  // Crash durability of the embedded mode (SQLite's file and WAL, files on disk),
                  // and suites that set up PostgreSQL or the network themselves.
                  exclude: [
                    'test/integration/outbound.test.ts',
                    'test/integration/durability.test.ts',
                    'test/integration/idempotency-crash.test.ts',
                    'test/integration/distributed.test.ts',
                    'test/integration/chaos.test.ts',
                    'test/integration/listen-notify.test.ts',
                    // Engines against their upstreams' emulators: no records, nothing to run twice.
                    'test/integration/engine-conformance.test.ts',
                    'test/integration/engines/**',
                  ],
                  env: { ...shared.env, FLUXHOST_TEST_MODE: 'distributed' },
                },
              },
            ]
          : []),
      ],
    },
  }
})
